"""The model registry: recording an imported model and looking models up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from weighbridge import ids
from weighbridge.db.repos import models as repo
from weighbridge.db.tables import Model, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.pipeline.result import ImportResult

READY = "READY"


def default_name(file_name: str) -> str:
    name = PurePosixPath(file_name).name
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".safetensors", ".gguf"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def register(db: Session, session: UploadSession, result: ImportResult) -> Model:
    row = Model(
        id=session.model_id, account_id=session.account_id,
        name=session.model_name or default_name(session.file_name), status=READY,
        is_adapter=result.is_adapter, base_model=result.base_model, format=result.format,
        architecture=result.architecture, model_type=result.model_type,
        parameter_count=result.parameter_count, dtypes=dict(result.dtypes),
        size_bytes=result.size_bytes, sha256=result.sha256,
        files=[asdict(f) for f in result.files], warnings=list(result.warnings),
        created_on=datetime.now(UTC),
    )
    repo.add(db, row)
    return row


def get_owned(db: Session, account_id: str, model_id: str) -> Model:
    row = repo.get_for_account(db, account_id, model_id) if ids.is_model_id(model_id) else None
    if row is None:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"Model {model_id} not found; list your "
                               "models with GET /api/public/models.")
    return row


def find(db: Session, model_id: str) -> Model | None:
    return repo.get(db, model_id)


def list_owned(db: Session, account_id: str, limit: int, offset: int
               ) -> tuple[Sequence[Model], int]:
    return repo.list_for_account(db, account_id, limit, offset), repo.count_for_account(
        db, account_id)
