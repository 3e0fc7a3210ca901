"""Client commands: `import` and `status`; `register` also adds the `models` group
(`models_cmds.py`) and the `sessions` group (`sessions_cmds.py`).

Each command parses its options, makes one SDK call (`weighbridge.Client`) and renders
the result: data on stdout (a summary, or the JSON record with `--json`), progress and
errors on stderr, and an exit code from `exit_codes.py`. No HTTP happens here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from weighbridge.cli import models_cmds, render, sessions_cmds
from weighbridge.cli.connection import (
    DEFAULT_HOST,
    HostOption,
    JsonOption,
    KeyOption,
    connect,
    fail,
)
from weighbridge.cli.sizes import parse_size
from weighbridge.cli.transfer_progress import TransferProgress


def _chunk_size(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def import_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="Model folder, archive (.tar, .tar.gz, .zip) or .safetensors/.gguf file."
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="Model name (default: the file or folder name).")
    ] = None,
    adapter: Annotated[
        bool | None,
        typer.Option(
            "--adapter/--no-adapter",
            help="Import as an adapter (default: detect adapter_config.json).",
            show_default=False,
        ),
    ] = None,
    base_model: Annotated[
        str | None, typer.Option(help="Base model of an adapter (id or HF name).")
    ] = None,
    chunk_size: Annotated[
        str | None,
        typer.Option(
            help="Chunk size, e.g. 64MiB, 8M or bytes (default: from the server's limits).",
            callback=_chunk_size,
        ),
    ] = None,
    parallel: Annotated[int, typer.Option(min=1, max=32, help="Chunks sent at once.")] = 4,
    json_output: JsonOption = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Return once uploaded; do not wait for the import job."),
    ] = False,
    no_resume: Annotated[
        bool,
        typer.Option(
            "--no-resume",
            help="Start a new upload, dropping an interrupted one of the same input.",
        ),
    ] = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Upload a model and wait until the server has imported it."""
    size: Any = chunk_size  # already bytes: the callback converted it
    err = render.stderr_console()
    display = TransferProgress(err)
    with connect(host, api_key, json_output) as client:
        try:
            with display:
                outcome = client.import_model(
                    path,
                    name=name,
                    is_adapter=adapter,
                    base_model=base_model,
                    chunk_size=size,
                    parallel=parallel,
                    wait=not no_wait,
                    progress=display.uploading,
                    hash_progress=display.hashing,
                    on_status=display.job,
                    resume=not no_resume,
                )
        except KeyboardInterrupt as exc:
            hint = "Run the same command again to resume the upload."
            if display.dock_status_id:
                hint = (
                    f"The upload is done; the import goes on: "
                    f"weighbridge status {display.dock_status_id}"
                )
            fail(exc, json_output, hint)
    if outcome.model is None:
        ids = {
            "sessionId": outcome.session_id,
            "dockStatusId": outcome.dock_status_id,
            "modelId": outcome.model_id,
        }
        if json_output:
            render.print_json(ids)
        else:
            render.stdout_console().print(
                f"Uploaded; the import job is {outcome.dock_status_id} (model {outcome.model_id})."
            )
            err.print(f"Follow it with: weighbridge status {outcome.dock_status_id}", style="dim")
        return
    if json_output:
        render.print_json(outcome.model)
        return
    if outcome.resumed_chunks:
        err.print(
            f"Resumed: {outcome.resumed_chunks} of {outcome.total_chunks} chunks were "
            "already on the server.",
            style="dim",
        )
    err.print("[green]✓[/] Imported")
    render.print_rows(render.stdout_console(), render.model_summary(outcome.model))


def status_command(
    dock_status_id: Annotated[str, typer.Argument(help="A job id (ds-…).")],
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Show a job's state (an import, export or delete)."""
    with connect(host, api_key, json_output) as client:
        status = client.dock_status(dock_status_id)
    if json_output:
        render.print_json(status)
    else:
        render.print_rows(render.stdout_console(), render.job_summary(status))


def register(app: typer.Typer) -> None:
    """Add the client commands to the `weighbridge` app."""
    app.command("import")(import_command)
    app.command("status")(status_command)
    app.add_typer(models_cmds.models_app(), name="models")
    app.add_typer(sessions_cmds.sessions_app(), name="sessions")
