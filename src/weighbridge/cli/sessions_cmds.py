"""The `sessions` commands: `list` and `abort` the account's upload sessions.

The server allows a limited number of OPEN sessions per account (100 by default); an
upload abandoned for good keeps one open, with its chunks, until it expires. `list` shows
them and `abort` frees one. Like every client command: parse, one SDK call, render; data
on stdout (or its JSON with `--json`), messages on stderr, exit codes from `exit_codes.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from weighbridge.cli import render
from weighbridge.cli.connection import (
    DEFAULT_HOST,
    HostOption,
    JsonOption,
    KeyOption,
    connect,
)


class SessionStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    EXPIRED = "expired"
    ABORTED = "aborted"
    ALL = "all"


def sessions_list_command(
    status: Annotated[
        SessionStatus,
        typer.Option(case_sensitive=False, help="Only sessions in this state (or all)."),
    ] = SessionStatus.OPEN,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many sessions.")] = 0,
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """List the account's upload sessions (open ones by default), newest first."""
    wanted = None if status is SessionStatus.ALL else status.value.upper()
    with connect(host, api_key, json_output) as client:
        sessions = client.list_sessions(wanted, limit=limit, offset=offset)
    if json_output:
        render.print_json({"sessions": sessions})
        return
    if not sessions:
        which = "" if wanted is None else f"{status.value} "
        render.stderr_console().print(f"No {which}upload sessions.")
        return
    render.stdout_console().print(render.sessions_table(sessions))
    if wanted == "OPEN":
        render.stderr_console().print(
            "Free one that no upload will finish with: weighbridge sessions abort SESSION",
            style="dim",
        )


def sessions_abort_command(
    session_id: Annotated[str, typer.Argument(help="A session id (from `sessions list`).")],
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Abort an open upload session and free the chunks it holds on the server."""
    with connect(host, api_key, json_output) as client:
        session = client.abort_session(session_id)
    if json_output:
        render.print_json(session)
        return
    render.stderr_console().print(f"[green]✓[/] Aborted {escape(session_id)}")
    if session:
        render.print_rows(render.stdout_console(), render.session_summary(session))


def sessions_app() -> typer.Typer:
    """The `sessions` command group."""
    sessions = typer.Typer(
        help="Upload sessions (find and abort stale ones).", no_args_is_help=True
    )
    sessions.command("list")(sessions_list_command)
    sessions.command("abort")(sessions_abort_command)
    return sessions
