"""Queries on plain stored files (DESIGN §2.8)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from weighbridge.db.tables import StoredFile


def get_for_account(db: Session, account_id: str, file_id: str) -> StoredFile | None:
    return db.scalars(select(StoredFile).where(StoredFile.id == file_id,
                                               StoredFile.account_id == account_id)).first()


def by_session(db: Session, session_id: str) -> StoredFile | None:
    return db.scalars(select(StoredFile).where(StoredFile.session_id == session_id)).first()


def add(db: Session, row: StoredFile) -> None:
    db.add(row)
    db.flush()
