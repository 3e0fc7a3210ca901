"""Server-side commands: `serve` runs the API, `keys create|list|revoke` manage API keys.

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


@keys_app.command("list")
def list_keys(
    data_dir: Annotated[Path | None, typer.Option(help="The server's data directory.")] = None,
) -> None:
    """List the API keys (id, name, account, created, revoked); secrets are never shown."""
    from weighbridge.server import open_database
    from weighbridge.services import accounts

    database = open_database(_settings(data_dir=data_dir))
    try:
        with database.transaction() as db:
            rows = accounts.list_keys(db)
    finally:
        database.close()
    for key, acct in rows:
        revoked = f"revoked {key.revoked_on.isoformat()}" if key.revoked_on else "active"
        typer.echo(f"{key.id}\t{key.name}\t{acct.name}\t{key.created_on.isoformat()}\t"
                   f"{revoked}")


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id, from `weighbridge keys list`.")],
    data_dir: Annotated[Path | None, typer.Option(help="The server's data directory.")] = None,
) -> None:
    """Revoke an API key: requests with it are answered 401 from then on."""
    from weighbridge.errors import WeighbridgeError
    from weighbridge.server import open_database
    from weighbridge.services import accounts

    database = open_database(_settings(data_dir=data_dir))
    try:
        with database.transaction() as db:
            accounts.revoke_key(db, key_id)
    except WeighbridgeError as exc:
        typer.echo(f"Error {exc.code}: {exc.msg}", err=True)
        raise typer.Exit(2) from exc
    finally:
        database.close()
    typer.echo(f"revoked key {key_id}", err=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
