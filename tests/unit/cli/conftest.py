"""The client commands' tests replace the SDK with `StubClient`: it records how it was
built and called and answers from class attributes; `run` invokes the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
import typer
from typer.testing import CliRunner

from weighbridge.cli import client_cmds, connection
from weighbridge.client import ExportOutcome, ImportOutcome, ModelPage

MODEL = {
    "_id": "cm-1",
    "modelId": "cm-1",
    "name": "all-MiniLM-L6-v2",
    "format": "safetensors",
    "architecture": "BertModel",
    "parameterCount": 22713728,
    "sizeBytes": 91618861,
    "warnings": [],
}

SESSION = {
    "sessionId": "0b6f1c9e-5d1a-4c57-9a43-3f0d2c6a7e11",
    "status": "OPEN",
    "fileContext": "model",
    "fileName": "all-MiniLM-L6-v2.tar",
    "fileSize": 91_618_861,
    "totalChunks": 3,
    "receivedBytes": 33_554_432,
    "modelId": "cm-2",
    "createdOn": "2026-12-03T10:00:00.000Z",
    "expirationDate": "2026-12-04T10:00:00.000Z",
}


class StubClient:
    """Records how it was built and called; answers from class attributes."""

    calls: ClassVar[list[tuple[str, Any]]] = []
    raises: ClassVar[BaseException | None] = None
    model: ClassVar[dict[str, Any] | None] = MODEL
    models: ClassVar[list[dict[str, Any]]] = [MODEL]
    total: ClassVar[int | None] = 1
    resumed_bytes: ClassVar[int] = 0
    sessions: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, host: str, api_key: str) -> None:
        StubClient.calls.append(("init", (host, api_key)))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def import_model(self, path: Path, **kwargs: Any) -> ImportOutcome:
        StubClient.calls.append(("import_model", (path, kwargs)))
        kwargs["hash_progress"](10, 10)
        kwargs["progress"](10, 10)
        kwargs["on_status"]({"_id": "ds-1", "status": "SUCCESS", "percentageComplete": 100})
        if StubClient.raises is not None:
            raise StubClient.raises
        return ImportOutcome(
            session_id="s-1",
            dock_status_id="ds-1",
            model_id="cm-1",
            sha256="0" * 64,
            file_size=10,
            total_chunks=1,
            model=StubClient.model if kwargs["wait"] else None,
        )

    def dock_status(self, dock_status_id: str) -> dict[str, Any]:
        return {
            "_id": dock_status_id,
            "status": "FAILED",
            "action": "IMPORT",
            "error": {"code": "INVALID_MODEL", "msg": "bad tensor"},
        }

    def list_models(self, limit: int, offset: int, **filters: Any) -> ModelPage:
        StubClient.calls.append(("list_models", (limit, offset, filters)))
        if StubClient.raises is not None:
            raise StubClient.raises
        models = StubClient.models
        return ModelPage(models, StubClient.total, limit, offset)

    def delete_model(self, model_id: str, **kwargs: Any) -> dict[str, Any]:
        StubClient.calls.append(("delete_model", (model_id, kwargs)))
        status = {"_id": "ds-2", "action": "DELETE", "status": "SUCCESS", "modelId": model_id}
        kwargs["on_status"](status)
        if StubClient.raises is not None:
            raise StubClient.raises
        return status

    def export_model(self, model_id: str, output: Path, **kwargs: Any) -> ExportOutcome:
        StubClient.calls.append(("export_model", (model_id, output, kwargs)))
        kwargs["on_status"]({"_id": "ds-3", "status": "SUCCESS", "action": "EXPORT"})
        kwargs["progress"](5, 10)
        if StubClient.raises is not None:
            raise StubClient.raises
        kwargs["progress"](10, 10)
        kwargs["verify_progress"](10, 10)
        return ExportOutcome(
            model_id=model_id,
            dock_status_id="ds-3",
            path=output,
            size_bytes=10,
            resumed_bytes=StubClient.resumed_bytes,
            verified_files=2,
            dock_status={"_id": "ds-3", "status": "SUCCESS"},
        )

    def list_sessions(
        self, status: str | None = "OPEN", *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        StubClient.calls.append(("list_sessions", (status, limit, offset)))
        if StubClient.raises is not None:
            raise StubClient.raises
        return list(StubClient.sessions)

    def abort_session(self, session_id: str) -> dict[str, Any]:
        StubClient.calls.append(("abort_session", session_id))
        if StubClient.raises is not None:
            raise StubClient.raises
        return {**SESSION, "sessionId": session_id, "status": "ABORTED", "receivedBytes": 0}

    def get_model(self, model_id: str) -> dict[str, Any]:
        if StubClient.raises is not None:
            raise StubClient.raises
        return MODEL


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    StubClient.calls = []
    StubClient.raises = None
    StubClient.models = [MODEL]
    StubClient.total = 1
    StubClient.resumed_bytes = 0
    StubClient.sessions = [SESSION]
    monkeypatch.setattr(connection, "Client", StubClient)
    monkeypatch.delenv("WEIGHBRIDGE_HOST", raising=False)
    monkeypatch.setenv("WEIGHBRIDGE_API_KEY", "k")
    app = typer.Typer()
    client_cmds.register(app)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke
