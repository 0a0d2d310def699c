"""CLI commands of the customers domain: `liveloop import customers FILE.csv`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(no_args_is_help=True, help="Import data from files.")
console = Console()


@app.callback()
def main() -> None:
    """Import data from files into a shop."""


async def run_import(
    *,
    database_url: str,
    shop_id: int,
    data: bytes,
    mapping: dict[str, str],
    encoding: str,
    source_name: str,
    progress: Progress | None = None,
) -> object:
    result: object = None
    """One import in one transaction: all valid rows are committed together at the end."""
    from liveloop.core.database import Database
    from liveloop.customers import imports
    from liveloop.shops import service as shops_service

    database = Database(database_url)
    task = progress.add_task("importing customers", total=None) if progress else None
    try:
        async with database.unit_of_work() as session:
            await shops_service.get_shop(session=session, shop_id=shop_id)
            actor = shops_service.system_actor(shop_id, label="liveloop import")

            def started(total: int) -> None:
                if progress is not None and task is not None:
                    progress.update(task, total=total)

            def advanced(done: int) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=done)

            result = await imports.import_customers_csv(
                session=session,
                actor=actor,
                data=data,
                mapping=mapping,
                encoding=encoding,
                source_name=source_name,
                on_start=started,
                on_progress=advanced,
            )
        # (Returning inside the loop would close the unit of work without committing.)
        return result
    finally:
        await database.dispose()


@app.command("customers")
def import_customers(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV file to import."),
    shop_id: int = typer.Option(..., "--shop-id", help="Shop the customers belong to."),
    mapping: str = typer.Option(
        "", help="Column mapping 'CSV column=field,...', e.g. '手机号码=phone,昵称=display_name'."
    ),
    encoding: str = typer.Option("auto", help="auto, utf-8 or gbk."),
    report: Path | None = typer.Option(
        None, "--report", help="Write rows that failed (line, field, message) to this CSV."
    ),
) -> None:
    """Import customers from CSV: dedup by phone, e-mail and channel ids; bad rows reported."""
    from liveloop.core.errors import LiveLoopError
    from liveloop.core.settings import get_settings_or_exit
    from liveloop.customers import imports
    from liveloop.customers.crypto import configure_cipher

    settings = get_settings_or_exit()
    configure_cipher(settings)
    try:
        columns = imports.parse_mapping(mapping)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            result = asyncio.run(
                run_import(
                    database_url=settings.resolved_database_url,
                    shop_id=shop_id,
                    data=file.read_bytes(),
                    mapping=columns,
                    encoding=encoding,
                    source_name=file.name,
                    progress=progress,
                )
            )
    except LiveLoopError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    assert isinstance(result, imports.ImportReport)
    console.print(
        f"[green]{result.rows} rows[/green]: {result.created} created, {result.updated} updated, "
        f"{result.duplicates} duplicates in the file, {result.failed} failed"
    )
    if result.ignored_columns:
        console.print(f"columns not imported: {', '.join(result.ignored_columns)}")
    if report is not None:
        report.write_text(imports.error_report_csv(result.errors), encoding="utf-8")
        console.print(f"errors written to {report}")
    else:
        for error in result.errors[:20]:
            console.print(f"line {error.line}: {error.message}", markup=False)
        if result.failed > 20:
            console.print(f"… and {result.failed - 20} more; use --report errors.csv")
    if result.failed:
        raise typer.Exit(2)
