"""Queries on content-addressed objects and the model files that reference them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from weighbridge.db.tables import ModelFile, StoredObject


def claim(db: Session, sha256: str, size: int, now: datetime) -> bool:
    """Make sure the object row exists and lock it for this transaction.

    Returns True when the row was already there (its blob exists), False when this
    transaction created it (the caller must store the blob before committing).
    """
    insert = postgresql.insert if db.bind is not None and \
        db.bind.dialect.name == "postgresql" else sqlite.insert
    result = db.execute(
        insert(StoredObject).values(sha256=sha256, size=size, created_on=now)
        .on_conflict_do_nothing(index_elements=["sha256"]))
    created = bool(result.rowcount)  # type: ignore[attr-defined]
    db.scalars(select(StoredObject).where(StoredObject.sha256 == sha256).with_for_update()).one()
    return not created


def lock(db: Session, sha256: str) -> StoredObject | None:
    return db.scalars(
        select(StoredObject).where(StoredObject.sha256 == sha256).with_for_update()).first()


def reference_count(db: Session, sha256: str) -> int:
    return int(db.scalar(select(func.count()).where(ModelFile.sha256 == sha256)) or 0)


def remove(db: Session, sha256: str) -> None:
    db.execute(delete(StoredObject).where(StoredObject.sha256 == sha256))


def files_of(db: Session, model_id: str) -> Sequence[ModelFile]:
    return db.scalars(
        select(ModelFile).where(ModelFile.model_id == model_id).order_by(ModelFile.path)).all()
