"""How client commands show things: models, jobs and errors, for people and as JSON.

Data (a model, a list, a job) goes to stdout, as a readable summary or, with `--json`,
as the server's JSON record untouched; messages for people (progress, hints, errors) go
to stderr. Nothing here talks to a server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from weighbridge.cli.sizes import format_size
from weighbridge.client.errors import ApiError, ImportFailed, WeighbridgeClientError


def stdout_console() -> Console:
    return Console(soft_wrap=True)


def stderr_console() -> Console:
    return Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "—"


def _size(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{format_size(value)} ({value:,} bytes)"
    return "—"


def _text(value: Any) -> str:
    return escape(str(value)) if value not in (None, "") else "—"


def model_id_of(model: Mapping[str, Any]) -> Any:
    return model.get("modelId") or model.get("_id")


def model_summary(model: Mapping[str, Any], *, files: bool = False) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("name", _text(model.get("name")))
    grid.add_row("id", _text(model_id_of(model)))
    grid.add_row("format", _text(model.get("format")))
    grid.add_row("architecture", _text(model.get("architecture")))
    grid.add_row("parameters", _count(model.get("parameterCount")))
    grid.add_row("size", _size(model.get("sizeBytes")))
    if model.get("isAdapter"):
        grid.add_row("adapter of", _text(model.get("baseModel")))
    if files:
        grid.add_row("status", _text(model.get("status")))
        grid.add_row("model type", _text(model.get("modelType")))
        dtypes = model.get("dtypes")
        if isinstance(dtypes, Mapping) and dtypes:
            grid.add_row("dtypes", ", ".join(f"{k} {_count(v)}" for k, v in dtypes.items()))
        grid.add_row("sha256", _text(model.get("sha256")))
        grid.add_row("created", _text(model.get("createdOn")))
        for entry in model.get("files") or []:
            if isinstance(entry, Mapping):
                grid.add_row("file", f"{_text(entry.get('path'))}  {_size(entry.get('size'))}")
    for warning in model.get("warnings") or []:
        grid.add_row("[yellow]warning[/]", _text(warning))
    return grid


def models_table(models: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "name", "format", "architecture", "parameters", "size", "created"):
        table.add_column(column, justify="right" if column in ("parameters", "size") else "left")
    for m in models:
        size = m.get("sizeBytes")
        table.add_row(
            _text(model_id_of(m)),
            _text(m.get("name")),
            _text(m.get("format")),
            _text(m.get("architecture")),
            _count(m.get("parameterCount")),
            format_size(size) if isinstance(size, int) else "—",
            _text(m.get("createdOn")),
        )
    return table


def job_summary(status: Mapping[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    state = str(status.get("status", ""))
    colour = {"SUCCESS": "green", "FAILED": "red"}.get(state, "yellow")
    grid.add_row("job", _text(status.get("_id") or status.get("dockStatusId")))
    grid.add_row("action", _text(status.get("action")))
    grid.add_row("status", f"[{colour}]{_text(state)}[/]")
    if state == "IN_PROGRESS":
        grid.add_row("phase", _text(status.get("phase")))
        grid.add_row("progress", f"{_text(status.get('percentageComplete'))} %")
    grid.add_row("model", _text(status.get("modelId")))
    error = status.get("error")
    if isinstance(error, Mapping):
        grid.add_row("error", f"[red]{_text(error.get('code'))}[/]: {_text(error.get('msg'))}")
    grid.add_row("updated", _text(status.get("updatedOn")))
    return grid


def error_object(error: BaseException) -> dict[str, Any]:
    """The `--json` form of a failure: `{"error": {"code", "msg", ...}}`."""
    if isinstance(error, WeighbridgeClientError):
        body = error.to_dict()
        if isinstance(error, ImportFailed):
            body["dockStatusId"] = error.dock_status.get("_id") or error.dock_status.get(
                "dockStatusId"
            )
            body["modelId"] = error.dock_status.get("modelId")
        if isinstance(error, ApiError) and isinstance(error.body, Mapping):
            extra = error.body.get("errors")
            if isinstance(extra, list) and extra and isinstance(extra[0], Mapping):
                body.update({k: v for k, v in extra[0].items() if k not in body})
        return {"error": body}
    if isinstance(error, KeyboardInterrupt):
        return {"error": {"code": "INTERRUPTED", "msg": "Interrupted."}}
    return {"error": {"code": "INTERNAL", "msg": str(error)}}


def print_error(console: Console, error: BaseException, hint: str | None = None) -> None:
    if isinstance(error, WeighbridgeClientError):
        where = f" (HTTP {error.status})" if isinstance(error, ApiError) else ""
        console.print(f"[bold red]Error[/] {escape(error.code)}{where}: {escape(error.msg)}")
    else:
        console.print(f"[bold red]Error[/]: {escape(str(error) or type(error).__name__)}")
    if hint:
        console.print(hint, style="dim")
