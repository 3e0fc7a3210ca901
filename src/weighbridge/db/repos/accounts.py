"""Queries on accounts and API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from weighbridge.db.tables import Account, ApiKey


def get_account(db: Session, account_id: str) -> Account | None:
    return db.get(Account, account_id)


def find_account_by_name(db: Session, name: str) -> Account | None:
    return db.scalars(select(Account).where(Account.name == name)).first()


def find_active_key(db: Session, key_hash: str) -> ApiKey | None:
    return db.scalars(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_on.is_(None))
    ).first()


def all_keys(db: Session) -> list[tuple[ApiKey, Account]]:
    rows = db.execute(select(ApiKey, Account).join(Account, Account.id == ApiKey.account_id)
                      .order_by(ApiKey.created_on)).all()
    return [(row[0], row[1]) for row in rows]


def get_key(db: Session, key_id: str) -> ApiKey | None:
    return db.get(ApiKey, key_id)


def add(db: Session, row: Account | ApiKey) -> None:
    db.add(row)
    db.flush()
