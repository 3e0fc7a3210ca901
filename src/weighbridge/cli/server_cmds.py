"""Server-side commands: `serve` runs the API, `keys create` makes an API key.

Both work on the server's own data directory (or database) directly, not over HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from weighbridge.settings import Settings

keys_app = typer.Typer(help="Manage API keys (run on the server's machine).",
                       no_args_is_help=True)


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the database and files live.")] = None,
) -> None:
    """Run the weighbridge API server (SQLite + local files unless configured otherwise)."""
    from weighbridge.server import serve as run_server

    run_server(_settings(bind_host=host, port=port, data_dir=data_dir))


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="A label for the key, e.g. 'ci'.")],
    account: Annotated[str | None, typer.Option(help="Account name (default: a new account).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="The server's data directory.")] = None,
) -> None:
    """Create an API key and print it (only the key, on stdout)."""
    from weighbridge.server import open_database
    from weighbridge.services import accounts

    database = open_database(_settings(data_dir=data_dir))
    try:
        with database.transaction() as db:
            key, acct = accounts.create_key(db, name, account)
    finally:
        database.close()
    typer.echo(f"created key {name!r} for account {acct.name!r} ({acct.id})", err=True)
    typer.echo(key)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
