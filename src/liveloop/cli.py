"""The `liveloop` command: run, web, worker, migrate, createadmin, import, export, demo."""

from __future__ import annotations

import asyncio
import getpass
from importlib import import_module

import typer
from rich.console import Console

from liveloop.core.settings import get_settings_or_exit

app = typer.Typer(
    help="LiveLoop: private-domain live commerce.", no_args_is_help=True, add_completion=False
)
console = Console()

# Sub-commands that live beside their domain: each module exposes a Typer `app`.
for _name, _module in (("import", "liveloop.customers.cli"), ("demo", "liveloop.demo.cli")):
    app.add_typer(import_module(_module).app, name=_name)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (SQLite or PostgreSQL)."""
    from liveloop.core import migrate as migrations

    settings = get_settings_or_exit()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.resolved_database_url)
    console.print(
        f"[green]database is up to date[/green] ({settings.resolved_database_url.split('://')[0]})"
    )


def _serve(*, embedded_worker: bool, workers: int = 1, demo_audience: int = 0) -> None:
    import uvicorn

    settings = get_settings_or_exit()
    settings.resolved_secret_key()  # generated on first run, before any worker process starts
    if workers > 1:
        uvicorn.run(
            "liveloop.cli:web_app_factory",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            proxy_headers=True,
            log_level=settings.log_level,
            access_log=False,  # our access line in core.metrics leaves out query strings
        )
        return
    from liveloop.app import create_app

    application = create_app(
        settings, run_embedded_worker=embedded_worker and settings.queue_backend != "immediate"
    )
    console.print(f"LiveLoop console: [bold]{settings.public_base_url}/console[/bold]")
    config = uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        log_level=settings.log_level,
        access_log=False,  # our access line in core.metrics leaves out query strings
    )
    if not demo_audience:
        uvicorn.Server(config).run()
        return
    from liveloop.demo.audience import serve_with_audience

    asyncio.run(
        serve_with_audience(
            uvicorn.Server(config), database=application.state.database, size=demo_audience
        )
    )


def web_app_factory() -> object:
    from liveloop.app import create_app

    return create_app()


@app.command()
def run() -> None:
    """Start LiveLoop in one process: pages, API, WebSockets and the job consumer (embedded)."""
    settings = get_settings_or_exit()
    _serve(embedded_worker=settings.embedded_worker, demo_audience=settings.demo_audience)


@app.command()
def web(
    workers: int = typer.Option(0, help="Worker processes (default LIVELOOP_WEB_CONCURRENCY)."),
) -> None:
    """Serve pages, API and WebSockets only; run `liveloop worker` for jobs."""
    settings = get_settings_or_exit()
    _serve(embedded_worker=False, workers=workers or settings.web_concurrency)


@app.command()
def worker(threads: int = typer.Option(4, help="Worker threads in this process.")) -> None:
    """Consume background jobs (Huey on Redis or SQLite)."""
    from liveloop.app import JOB_MODULES
    from liveloop.core.jobs import queue
    from liveloop.core.logging import configure_logging

    settings = get_settings_or_exit()
    configure_logging(settings.log_level, json=settings.log_json)
    for module in JOB_MODULES:
        import_module(module)
    queue.configure(settings)
    console.print(
        f"liveloop worker: consuming jobs from {settings.queue_backend} with {threads} threads "
        "(Ctrl+C stops after the running jobs)"
    )
    queue.run_worker(threads)


@app.command()
def createadmin(
    email: str = typer.Option(..., prompt=True, help="Login e-mail of the owner."),
    name: str = typer.Option("Admin", help="Display name."),
    shop: str = typer.Option(
        "", help="Shop name; a new shop is created unless --shop-id is given."
    ),
    shop_id: int = typer.Option(0, help="Add the owner to this existing shop."),
    password: str = typer.Option(
        "", help="Password (prompted when empty).", envvar="LIVELOOP_ADMIN_PASSWORD"
    ),
) -> None:
    """Create a shop owner (and the shop) who can log in to the console."""
    from liveloop.core.database import Database
    from liveloop.core.errors import LiveLoopError
    from liveloop.shops import service as shops_service
    from liveloop.shops.permissions import Role

    settings = get_settings_or_exit()
    if not password:
        password = getpass.getpass("Password: ")

    async def create() -> int:
        database = Database(settings.resolved_database_url)
        try:
            async with database.unit_of_work() as session:
                target = shop_id
                if not target:
                    target = (
                        await shops_service.create_shop(session=session, name=shop or "My shop")
                    ).id
                else:
                    await shops_service.get_shop(session=session, shop_id=target)
                await shops_service.create_staff(
                    session=session,
                    shop_id=target,
                    email=email,
                    name=name,
                    password=password,
                    role=Role.OWNER,
                )
                return target
        finally:
            await database.dispose()

    try:
        created_in = asyncio.run(create())
    except LiveLoopError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]owner {email} created in shop {created_in}[/green]")


if __name__ == "__main__":
    app()
