"""Queries on upload sessions and their chunk rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from weighbridge.db.tables import Chunk, UploadSession


def get_for_account(
    db: Session, account_id: str, session_id: str, *, lock: bool = False
) -> UploadSession | None:
    query = select(UploadSession).where(
        UploadSession.id == session_id, UploadSession.account_id == account_id
    )
    if lock:
        query = query.with_for_update()
    return db.scalars(query).first()


def get(db: Session, session_id: str) -> UploadSession | None:
    return db.get(UploadSession, session_id)


def find_by_idempotency_key(db: Session, account_id: str, key: str) -> UploadSession | None:
    return db.scalars(
        select(UploadSession).where(
            UploadSession.account_id == account_id, UploadSession.idempotency_key == key
        )
    ).first()


def list_for_account(db: Session, account_id: str, status: str | None, now: datetime,
                     limit: int, offset: int) -> list[tuple[UploadSession, int]]:
    """The account's sessions, newest first, each with its received byte count.

    `status` OPEN/EXPIRED is judged by `expires_on` as well, as the API shows it."""
    received = (select(Chunk.session_id, func.sum(Chunk.size).label("bytes"))
                .group_by(Chunk.session_id).subquery())
    query = (select(UploadSession, func.coalesce(received.c.bytes, 0))
             .outerjoin(received, received.c.session_id == UploadSession.id)
             .where(UploadSession.account_id == account_id))
    if status == "OPEN":
        query = query.where(UploadSession.status == "OPEN", UploadSession.expires_on > now)
    elif status == "EXPIRED":
        query = query.where(or_(UploadSession.status == "EXPIRED",
                                (UploadSession.status == "OPEN")
                                & (UploadSession.expires_on <= now)))
    elif status is not None:
        query = query.where(UploadSession.status == status)
    rows = db.execute(query.order_by(UploadSession.created_on.desc(), UploadSession.id)
                      .limit(limit).offset(offset)).all()
    return [(row[0], int(row[1])) for row in rows]


def count_open(db: Session, account_id: str, now: datetime) -> int:
    return int(db.scalar(
        select(func.count()).where(UploadSession.account_id == account_id,
                                   UploadSession.status == "OPEN",
                                   UploadSession.expires_on > now)) or 0)


def add(db: Session, row: UploadSession) -> None:
    db.add(row)
    db.flush()


def chunks(db: Session, session_id: str) -> Sequence[Chunk]:
    return db.scalars(
        select(Chunk).where(Chunk.session_id == session_id).order_by(Chunk.chunk_number)
    ).all()


def get_chunk(db: Session, session_id: str, chunk_number: int) -> Chunk | None:
    return db.get(Chunk, (session_id, chunk_number))


def received_bytes(db: Session, session_id: str) -> int:
    total = db.scalar(select(func.sum(Chunk.size)).where(Chunk.session_id == session_id))
    return int(total or 0)


def put_chunk(db: Session, row: Chunk) -> None:
    db.merge(row)
    db.flush()


def delete_chunks(db: Session, session_id: str) -> None:
    db.execute(delete(Chunk).where(Chunk.session_id == session_id))
    db.flush()


def open_expired_before(db: Session, moment: datetime, limit: int) -> Sequence[UploadSession]:
    return db.scalars(
        select(UploadSession)
        .where(UploadSession.status == "OPEN", UploadSession.expires_on <= moment)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def ended_not_freed(db: Session, statuses: Sequence[str], limit: int) -> Sequence[UploadSession]:
    return db.scalars(
        select(UploadSession)
        .where(UploadSession.status.in_(statuses), UploadSession.freed_on.is_(None))
        .limit(limit)
    ).all()
