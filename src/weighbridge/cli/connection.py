"""What every client command shares: the server and key options, `--json`, the connected
SDK client, and the one way a command fails (message on stderr, `--json` error object on
stdout, exit code from `exit_codes.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, NoReturn

import typer

from weighbridge.cli import render
from weighbridge.cli.exit_codes import exit_code_for
from weighbridge.client import Client, WeighbridgeClientError
from weighbridge.client.transport import server_url

DEFAULT_HOST = "http://127.0.0.1:8080"

HostOption = Annotated[
    str,
    typer.Option(
        "--host",
        envvar="WEIGHBRIDGE_HOST",
        help="Server URL, e.g. http://127.0.0.1:8080.",
        show_envvar=True,
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="WEIGHBRIDGE_API_KEY",
        help="API key (X-api-key).",
        show_envvar=True,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def fail(error: BaseException, as_json: bool, hint: str | None = None) -> NoReturn:
    if as_json:
        render.print_json(render.error_object(error))
    render.print_error(render.stderr_console(), error, hint)
    raise typer.Exit(int(exit_code_for(error)))


@contextlib.contextmanager
def connect(host: str, api_key: str | None, as_json: bool) -> Iterator[Client]:
    """A connected SDK client; any SDK error becomes a message and its exit code."""
    if not api_key:
        fail(
            WeighbridgeClientError(
                "MISSING_API_KEY",
                "No API key: pass --api-key or set WEIGHBRIDGE_API_KEY "
                "(a server admin creates one with `weighbridge keys create`).",
            ),
            as_json,
        )
    try:
        server_url(host)  # a host that is no URL fails now, not after every retry
        with Client(host, api_key) as client:
            yield client
    except WeighbridgeClientError as exc:
        fail(exc, as_json)
