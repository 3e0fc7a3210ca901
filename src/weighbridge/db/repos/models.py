"""Queries on imported models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from weighbridge.db.tables import Model


@dataclass(frozen=True)
class ModelFilter:
    name_contains: str | None = None
    is_adapter: bool | None = None
    format: str | None = None
    status: str | None = None


def get_for_account(db: Session, account_id: str, model_id: str) -> Model | None:
    return db.scalars(
        select(Model).where(Model.id == model_id, Model.account_id == account_id)
    ).first()


def get(db: Session, model_id: str) -> Model | None:
    return db.get(Model, model_id)


def add(db: Session, row: Model) -> None:
    db.add(row)
    db.flush()


def remove(db: Session, model_id: str) -> None:
    db.execute(delete(Model).where(Model.id == model_id))


Q = TypeVar("Q", bound=Select[Any])


def _filtered(query: Q, account_id: str, f: ModelFilter) -> Q:
    query = query.where(Model.account_id == account_id)
    if f.name_contains:
        escaped = f.name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Model.name.ilike(f"%{escaped}%", escape="\\"))
    if f.is_adapter is not None:
        query = query.where(Model.is_adapter == f.is_adapter)
    if f.format:
        query = query.where(Model.format == f.format)
    if f.status:
        query = query.where(Model.status == f.status)
    return query


def list_for_account(db: Session, account_id: str, f: ModelFilter, limit: int, offset: int
                     ) -> Sequence[Model]:
    query = _filtered(select(Model), account_id, f)
    return db.scalars(
        query.order_by(Model.created_on.desc(), Model.id).limit(limit).offset(offset)
    ).all()


def count_for_account(db: Session, account_id: str, f: ModelFilter) -> int:
    return int(db.scalar(_filtered(select(func.count()).select_from(Model), account_id, f)) or 0)
