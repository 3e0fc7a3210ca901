"""The `weighbridge` command: one typer app, each command group in its own module.

Server-side commands (`serve`, `keys`) live in `server_cmds.py`; client commands
(`import`, `status`, `models`, `sessions`) in `client_cmds.py` and talk to a server only through the
SDK. Errors become a message on stderr and an exit code from `exit_codes.py`.
"""

from __future__ import annotations

import typer

from weighbridge.cli import client_cmds, server_cmds

app = typer.Typer(
    name="weighbridge",
    help="Import models into a weighbridge server, and run one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
server_cmds.register(app)
client_cmds.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
