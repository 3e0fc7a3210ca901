"""Queries on imported models."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weighbridge.db.tables import Model


def get_for_account(db: Session, account_id: str, model_id: str) -> Model | None:
    return db.scalars(
        select(Model).where(Model.id == model_id, Model.account_id == account_id)
    ).first()


def get(db: Session, model_id: str) -> Model | None:
    return db.get(Model, model_id)


def add(db: Session, row: Model) -> None:
    db.add(row)
    db.flush()


def list_for_account(db: Session, account_id: str, limit: int, offset: int) -> Sequence[Model]:
    return db.scalars(
        select(Model)
        .where(Model.account_id == account_id)
        .order_by(Model.created_on.desc(), Model.id)
        .limit(limit)
        .offset(offset)
    ).all()


def count_for_account(db: Session, account_id: str) -> int:
    return int(db.scalar(select(func.count()).where(Model.account_id == account_id)) or 0)
