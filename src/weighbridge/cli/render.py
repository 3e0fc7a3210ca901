"""How client commands show things: models, jobs, exports, upload sessions and errors,
for people and as JSON.

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
from weighbridge.client import ExportOutcome
from weighbridge.client.errors import ApiError, JobFailed, WeighbridgeClientError


def stdout_console() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = 200  # piped tables must not be cropped to rich's default of 80
    return console


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


Rows = list[tuple[str, str]]


def print_rows(console: Console, rows: Rows) -> None:
    """`label  value` lines; not a rich table, so piped output has no padding or cropping."""
    width = max((len(label) for label, _ in rows), default=0) + 2
    for label, value in rows:
        console.print(f"[bold]{label:<{width}}[/]{value}", soft_wrap=True, highlight=False)


def model_summary(model: Mapping[str, Any], *, files: bool = False) -> Rows:
    rows: Rows = []
    rows.append(("name", _text(model.get("name"))))
    rows.append(("id", _text(model_id_of(model))))
    rows.append(("format", _text(model.get("format"))))
    rows.append(("architecture", _text(model.get("architecture"))))
    rows.append(("parameters", _count(model.get("parameterCount"))))
    rows.append(("size", _size(model.get("sizeBytes"))))
    if model.get("isAdapter"):
        rows.append(("adapter of", _text(model.get("baseModel"))))
    if files:
        rows.append(("status", _text(model.get("status"))))
        rows.append(("model type", _text(model.get("modelType"))))
        dtypes = model.get("dtypes")
        if isinstance(dtypes, Mapping) and dtypes:
            rows.append(("dtypes", ", ".join(f"{k} {_count(v)}" for k, v in dtypes.items())))
        rows.append(("sha256", _text(model.get("sha256"))))
        rows.append(("created", _text(model.get("createdOn"))))
        for entry in model.get("files") or []:
            if isinstance(entry, Mapping):
                rows.append(("file", f"{_text(entry.get('path'))}  {_size(entry.get('size'))}"))
    for warning in model.get("warnings") or []:
        rows.append(("warning", f"[yellow]{_text(warning)}[/]"))
    return rows


def models_table(models: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "name", "format", "architecture", "parameters", "size", "created"):
        table.add_column(
            column,
            justify="right" if column in ("parameters", "size") else "left",
            no_wrap=column != "name",  # ids must stay whole to be copied
            overflow="fold",
        )
    for m in models:
        size = m.get("sizeBytes")
        table.add_row(
            _text(model_id_of(m)),
            _text(m.get("name")),
            _text(m.get("format")),
            _text(m.get("architecture")),
            _count(m.get("parameterCount")),
            format_size(size) if isinstance(size, int) else "—",
            _text(str(m.get("createdOn") or "")[:19].replace("T", " ")),
        )
    return table


def sessions_table(sessions: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("session", "status", "file", "received", "size", "expires"):
        table.add_column(
            column,
            justify="right" if column in ("received", "size") else "left",
            no_wrap=column != "file",  # ids must stay whole to be copied
            overflow="fold",
        )
    for s in sessions:
        size, received = s.get("fileSize"), s.get("receivedBytes")
        table.add_row(
            _text(s.get("sessionId")),
            _text(s.get("status")),
            _text(s.get("fileName")),
            format_size(received) if isinstance(received, int) else "—",
            format_size(size) if isinstance(size, int) else "—",
            _text(str(s.get("expirationDate") or "")[:19].replace("T", " ")),
        )
    return table


def session_summary(session: Mapping[str, Any]) -> Rows:
    return [
        ("session", _text(session.get("sessionId"))),
        ("status", _text(session.get("status"))),
        ("file", _text(session.get("fileName"))),
        ("size", _size(session.get("fileSize"))),
        ("received", _size(session.get("receivedBytes"))),
        ("expires", _text(session.get("expirationDate"))),
    ]


def page_footer(offset: int, shown: int, total: int | None) -> str | None:
    """ "Models 51–100 of 230; more with --offset 100", or None when one page is all."""
    if total is None or (offset == 0 and shown >= total):
        return None
    text = f"Models {offset + 1}–{offset + shown} of {total}"
    if offset + shown < total:
        text += f"; more with --offset {offset + shown}"
    return text


def export_object(outcome: ExportOutcome) -> dict[str, Any]:
    """The `--json` form of a finished export."""
    return {
        "modelId": outcome.model_id,
        "dockStatusId": outcome.dock_status_id,
        "path": str(outcome.path),
        "sizeBytes": outcome.size_bytes,
        "resumedBytes": outcome.resumed_bytes,
        "verifiedFiles": outcome.verified_files,
    }


def export_summary(outcome: ExportOutcome) -> Rows:
    rows: Rows = [("file", _text(outcome.path)), ("size", _size(outcome.size_bytes))]
    checked = outcome.verified_files
    rows.append(("checked", f"{checked} files match the model record" if checked else "no"))
    rows.append(("model", _text(outcome.model_id)))
    rows.append(("job", _text(outcome.dock_status_id)))
    return rows


def job_summary(status: Mapping[str, Any]) -> Rows:
    rows: Rows = []
    state = str(status.get("status", ""))
    colour = {"SUCCESS": "green", "FAILED": "red"}.get(state, "yellow")
    rows.append(("job", _text(status.get("_id") or status.get("dockStatusId"))))
    rows.append(("action", _text(status.get("action"))))
    rows.append(("status", f"[{colour}]{_text(state)}[/]"))
    if state == "IN_PROGRESS":
        rows.append(("phase", _text(status.get("phase"))))
        rows.append(("progress", f"{_text(status.get('percentageComplete'))} %"))
    rows.append(("model", _text(status.get("modelId"))))
    error = status.get("error")
    if isinstance(error, Mapping):
        rows.append(("error", f"[red]{_text(error.get('code'))}[/]: {_text(error.get('msg'))}"))
    rows.append(("updated", _text(status.get("updatedOn"))))
    return rows


def error_object(error: BaseException) -> dict[str, Any]:
    """The `--json` form of a failure: `{"error": {"code", "msg", ...}}`."""
    if isinstance(error, WeighbridgeClientError):
        body = error.to_dict()
        if isinstance(error, JobFailed):
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
    elif isinstance(error, KeyboardInterrupt):
        console.print("[bold yellow]Interrupted.[/]")
    else:
        console.print(f"[bold red]Error[/]: {escape(str(error) or type(error).__name__)}")
    if hint:
        console.print(hint, style="dim")
