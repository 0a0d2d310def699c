"""`liveloop demo seed`: create the demo shop (used by `make run` on first start)."""

from __future__ import annotations

import asyncio
import time
from importlib import import_module

import typer
from rich.console import Console

from liveloop.core.settings import get_settings_or_exit

app = typer.Typer(no_args_is_help=True, help="The demo shop.")
console = Console()


@app.command()
def seed(
    customers: int = typer.Option(5000, min=10, help="How many customers."),
    days: int = typer.Option(180, min=7, help="Days of history."),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Do nothing when any shop exists already."
    ),
) -> None:
    """Create a realistic demo shop: staff of every role, catalog, customers, tags, history."""
    from liveloop.app import JOB_MODULES
    from liveloop.core.database import Database
    from liveloop.core.jobs import queue
    from liveloop.customers.crypto import configure_cipher
    from liveloop.demo.seed import DEMO_PASSWORD, DEMO_STAFF, demo_exists, seed_demo

    settings = get_settings_or_exit()
    configure_cipher(settings)
    # Orders placed by the seed enqueue their expiry (and refunds their provider call) after
    # commit: the queue must be there, and the worker of `make run` takes them.
    for module in JOB_MODULES:
        import_module(module)
    queue.configure(settings)

    async def run() -> None:
        database = Database(settings.resolved_database_url)
        try:
            async with database.unit_of_work() as session:
                if if_empty and await demo_exists(session):
                    console.print("a shop exists already; the demo seed is skipped")
                    return
                started = time.perf_counter()
                with console.status("seeding the demo shop…") as status:
                    report = await seed_demo(
                        session=session,
                        customers=customers,
                        days=days,
                        progress=lambda step: status.update(f"seeding: {step}…"),
                        settings=settings,
                    )
                console.print(
                    f"[green]demo shop {report.shop_id} ready[/green] in {time.perf_counter() - started:.0f}s: "
                    f"{report.customers} customers, {report.products} products, {report.events} events, "
                    f"{report.paid_orders} paid orders, GMV ¥{report.gmv_fen / 100:,.2f}"
                )
            async with database.unit_of_work() as session:
                from liveloop.demo.outreach_demo import send_outreach

                outreach = await send_outreach(
                    session, shop_id=report.shop_id, broadcast_id=report.invitation_id,
                    settings=settings,
                )  # fmt: skip
            console.print(
                f"{outreach.sent} live invitations and {outreach.reminders} reminders written to"
                f" the local mailbox file {outreach.mailbox} (demo: nothing was sent)"
            )
        finally:
            await database.dispose()

    asyncio.run(run())
    console.print(
        "demo logins (password [bold]"
        + DEMO_PASSWORD
        + "[/bold]): "
        + ", ".join(email for email, _, _ in DEMO_STAFF)
    )
