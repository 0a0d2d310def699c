"""CLI commands of the demo domain."""

import typer

app = typer.Typer(no_args_is_help=True)
