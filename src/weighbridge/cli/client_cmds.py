"""Client commands: `import`, `status`, `models list`, `models show`.

Each command parses its options, makes one SDK call (`weighbridge.Client`) and renders
the result: data on stdout (a summary, or the JSON record with `--json`), progress and
errors on stderr, and an exit code from `exit_codes.py`. No HTTP happens here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from weighbridge.cli import render
from weighbridge.cli.exit_codes import exit_code_for
from weighbridge.cli.sizes import parse_size
from weighbridge.cli.transfer_progress import TransferProgress
from weighbridge.client import Client, WeighbridgeClientError

DEFAULT_HOST = "http://127.0.0.1:8080"

HostOption = Annotated[
    str,
    typer.Option("--host", envvar="WEIGHBRIDGE_HOST", help="Server URL.", show_envvar=True),
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


def _fail(error: BaseException, as_json: bool, hint: str | None = None) -> NoReturn:
    if as_json:
        render.print_json(render.error_object(error))
    render.print_error(render.stderr_console(), error, hint)
    raise typer.Exit(int(exit_code_for(error)))


@contextlib.contextmanager
def _client(host: str, api_key: str | None, as_json: bool) -> Iterator[Client]:
    """A connected SDK client; any SDK error becomes a message and its exit code."""
    if not api_key:
        _fail(
            WeighbridgeClientError(
                "MISSING_API_KEY",
                "No API key: pass --api-key or set WEIGHBRIDGE_API_KEY "
                "(a server admin creates one with `weighbridge keys create`).",
            ),
            as_json,
        )
    try:
        with Client(host, api_key) as client:
            yield client
    except WeighbridgeClientError as exc:
        _fail(exc, as_json)


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
    with _client(host, api_key, json_output) as client:
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
            _fail(exc, json_output, hint)
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
    with _client(host, api_key, json_output) as client:
        status = client.dock_status(dock_status_id)
    if json_output:
        render.print_json(status)
    else:
        render.print_rows(render.stdout_console(), render.job_summary(status))


def models_list_command(
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many models.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many models.")] = 0,
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """List imported models, newest first."""
    with _client(host, api_key, json_output) as client:
        models = client.list_models(limit=limit, offset=offset)
    if json_output:
        render.print_json(models)
    elif not models:
        render.stderr_console().print("No models yet. Import one with: weighbridge import PATH")
    else:
        render.stdout_console().print(render.models_table(models))


def models_show_command(
    model_id: Annotated[str, typer.Argument(help="A model id (cm-…).")],
    json_output: JsonOption = False,
    host: HostOption = DEFAULT_HOST,
    api_key: KeyOption = None,
) -> None:
    """Show one model with its files."""
    with _client(host, api_key, json_output) as client:
        model = client.get_model(model_id)
    if json_output:
        render.print_json(model)
    else:
        render.print_rows(render.stdout_console(), render.model_summary(model, files=True))


def register(app: typer.Typer) -> None:
    """Add the client commands to the `weighbridge` app."""
    app.command("import")(import_command)
    app.command("status")(status_command)
    models = typer.Typer(help="Imported models.", no_args_is_help=True)
    models.command("list")(models_list_command)
    models.command("show")(models_show_command)
    app.add_typer(models, name="models")
