"""The `models` commands: `list`, `show`, `delete` and `export`.

Like every client command: parse, one SDK call, render. Data (the list, the record, the
job, the exported file's summary) goes to stdout, or its JSON with `--json`; progress,
confirmations and hints go to stderr; the exit code comes from `exit_codes.py`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
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
    fail,
)
from weighbridge.cli.sizes import format_size
from weighbridge.cli.transfer_progress import TransferProgress
from weighbridge.client import LocalInputError


class ModelFormat(StrEnum):
    SAFETENSORS = "safetensors"
    PYTORCH = "pytorch"
    GGUF = "gguf"


def models_list_command(
    name: Annotated[str | None, typer.Option(help="Only models whose name contains this.")] = None,
    adapter: Annotated[
        bool | None,
        typer.Option(
            "--adapter/--no-adapter",
            help="Only adapters, or only full models (default: both).",
            show_default=False,
        ),
    ] = None,
    model_format: Annotated[
        ModelFormat | None, typer.Option("--format", help="Only models of this format.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Only models in this state (e.g. READY).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many models.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many models.")] = 0,
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """List imported models, newest first."""
    with connect(host, api_key, json_output) as client:
        page = client.list_models(
            limit,
            offset,
            name=name,
            is_adapter=adapter,
            format=model_format.value if model_format else None,
            status=status.upper() if status else None,
        )
    if json_output:
        render.print_json(page.to_dict())
        return
    err = render.stderr_console()
    filtered = any(v is not None for v in (name, adapter, model_format, status))
    if not page.models:
        if filtered or offset:
            err.print("No models match.")
        else:
            err.print("No models yet. Import one with: weighbridge import PATH")
        return
    render.stdout_console().print(render.models_table(page.models))
    if (footer := render.page_footer(page.offset, len(page.models), page.total)) is not None:
        err.print(footer, style="dim")


def models_show_command(
    model_id: Annotated[str, typer.Argument(help="A model id (cm-…).")],
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Show one model with its files."""
    with connect(host, api_key, json_output) as client:
        model = client.get_model(model_id)
    if json_output:
        render.print_json(model)
    else:
        render.print_rows(render.stdout_console(), render.model_summary(model, files=True))


def models_delete_command(
    model_id: Annotated[str, typer.Argument(help="A model id (cm-…).")],
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Delete a model and its files (files another model shares are kept)."""
    err = render.stderr_console()
    display = TransferProgress(err, "delete")
    with connect(host, api_key, json_output) as client:
        try:
            with display:
                status = client.delete_model(model_id, on_status=display.job)
        except KeyboardInterrupt as exc:
            hint = None
            if display.dock_status_id:
                hint = f"The delete goes on: weighbridge status {display.dock_status_id}"
            fail(exc, json_output, hint)
    if json_output:
        render.print_json(status)
        return
    err.print(f"[green]✓[/] Deleted {escape(model_id)}")
    render.print_rows(render.stdout_console(), render.job_summary(status))


def models_export_command(
    model_id: Annotated[str, typer.Argument(help="A model id (cm-…).")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="File to write the tar to (or a folder: the server's file name is used).",
        ),
    ],
    no_resume: Annotated[
        bool,
        typer.Option("--no-resume", help="Download afresh, ignoring a partial FILE.part."),
    ] = False,
    no_verify: Annotated[
        bool,
        typer.Option("--no-verify", help="Skip checking the tar's files against the model record."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output file if it exists.")
    ] = False,
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Export a model as an uncompressed tar of its files; resumes a partial download."""
    err = render.stderr_console()
    display = TransferProgress(err, "export")
    with connect(host, api_key, json_output) as client:
        try:
            with display:
                outcome = client.export_model(
                    model_id,
                    output,
                    progress=display.downloading,
                    verify_progress=display.verifying,
                    on_status=display.job,
                    resume=not no_resume,
                    verify=not no_verify,
                    overwrite=force,
                )
        except LocalInputError as exc:
            hint = "Pass --force to overwrite it." if exc.code == "OUTPUT_EXISTS" else None
            fail(exc, json_output, hint)
        except KeyboardInterrupt as exc:
            fail(exc, json_output, "Run the same command again to resume the download.")
    if json_output:
        render.print_json(render.export_object(outcome))
        return
    if outcome.resumed_bytes:
        err.print(
            f"Resumed: {format_size(outcome.resumed_bytes)} were already downloaded.",
            style="dim",
        )
    err.print(f"[green]✓[/] Exported {escape(model_id)}")
    render.print_rows(render.stdout_console(), render.export_summary(outcome))


def models_app() -> typer.Typer:
    """The `models` command group."""
    models = typer.Typer(help="Imported models.", no_args_is_help=True)
    models.command("list")(models_list_command)
    models.command("show")(models_show_command)
    models.command("delete")(models_delete_command)
    models.command("export")(models_export_command)
    return models
