"""The model registry: registering an imported model, finding, and deleting models.

Model files are stored once by content (objects/sha256/…), however many models use
them. Every change to who uses an object happens with the object's row locked, in the
same transaction that adds or removes the model's file rows:

- register: lock-or-create the object row; if this transaction created it, move the
  staged file into place before commit (a rollback then leaves at most an unreferenced
  blob, which the next import of the same bytes simply replaces);
- delete: remove the model's file rows; for each object no longer referenced, delete
  the blob and its row while still holding the lock, so a concurrent import of the same
  bytes either committed first (and keeps the object alive) or waits and re-creates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from weighbridge import ids
from weighbridge.db.repos import models as repo
from weighbridge.db.repos import objects as objects_repo
from weighbridge.db.repos.models import ModelFilter
from weighbridge.db.tables import Model, ModelFile, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.pipeline.result import AdapterInfo, ImportResult
from weighbridge.pipeline.run import UPLOAD_EXTENSIONS
from weighbridge.storage import layout
from weighbridge.storage.base import BlobStore

READY = "READY"
DELETING = "DELETING"


def default_name(file_name: str) -> str:
    name = PurePosixPath(file_name).name
    for ext in sorted(UPLOAD_EXTENSIONS, key=len, reverse=True):  # "tar.gz" before "gz"
        suffix = "." + ext
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _adapter_record(info: AdapterInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"peftType": info.peft_type, "baseModel": info.base_model_name_or_path,
            "taskType": info.task_type, "rank": info.r, "alpha": info.lora_alpha,
            "targetModules": info.target_modules}


def register(db: Session, store: BlobStore, session: UploadSession, result: ImportResult,
             model_dir: Path) -> Model:
    """Record the model and move its staged files (under `model_dir`) into the store."""
    now = datetime.now(UTC)
    row = Model(
        id=session.model_id, account_id=session.account_id,
        name=session.model_name or default_name(session.file_name), status=READY,
        is_adapter=result.is_adapter, base_model=result.base_model, format=result.format,
        architecture=result.architecture, model_type=result.model_type,
        parameter_count=result.parameter_count, dtypes=dict(result.dtypes),
        size_bytes=result.size_bytes, sha256=result.sha256, warnings=list(result.warnings),
        adapter=_adapter_record(result.adapter),
        created_on=now,
    )
    repo.add(db, row)
    for entry in result.files:
        staged = model_dir / entry.path
        key = layout.object_key(entry.sha256)
        if not objects_repo.claim(db, entry.sha256, entry.size, now) or not store.exists(key):
            store.put_file(staged, key)
        db.add(ModelFile(model_id=row.id, path=entry.path, sha256=entry.sha256,
                         size=entry.size))
    db.flush()
    db.refresh(row)
    return row


def get_owned(db: Session, account_id: str, model_id: str) -> Model:
    row = repo.get_for_account(db, account_id, model_id) if ids.is_model_id(model_id) else None
    if row is None:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"Model {model_id} not found; list your "
                               "models with GET /api/public/models.")
    return row


def get_ready(db: Session, account_id: str, model_id: str) -> Model:
    row = get_owned(db, account_id, model_id)
    if row.status != READY:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"Model {model_id} is being deleted.")
    return row


def find(db: Session, model_id: str) -> Model | None:
    return repo.get(db, model_id)


def list_owned(db: Session, account_id: str, limit: int, offset: int, *,
               name_contains: str | None = None, is_adapter: bool | None = None,
               format: str | None = None, status: str | None = None
               ) -> tuple[Sequence[Model], int]:
    """One page of the account's models (newest first) and the total that match."""
    f = ModelFilter(name_contains, is_adapter, format, status)
    return (repo.list_for_account(db, account_id, f, limit, offset),
            repo.count_for_account(db, account_id, f))


def mark_deleting(db: Session, account_id: str, model_id: str) -> Model:
    row = get_ready(db, account_id, model_id)
    row.status = DELETING
    db.flush()
    return row


def delete(db: Session, store: BlobStore, model_id: str) -> None:
    """Remove the model and every object only it used (see the module docstring)."""
    row = repo.get(db, model_id)
    if row is None:
        return
    shas = sorted({f.sha256 for f in row.files})
    db.delete(row)
    db.flush()
    for sha in shas:
        if objects_repo.lock(db, sha) is not None and objects_repo.reference_count(db, sha) == 0:
            store.delete(layout.object_key(sha))
            objects_repo.remove(db, sha)
    db.flush()


def files_of(row: Model) -> list[ModelFile]:
    return list(row.files)
