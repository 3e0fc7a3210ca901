"""Accounts and API keys. A key is shown once, at creation; only its sha256 is stored.

sha256 (not a slow password hash) is the right tool here because keys are 256-bit
random tokens: there is nothing to brute-force, and a lookup must be one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from weighbridge import ids
from weighbridge.db.repos import accounts as repo
from weighbridge.db.tables import Account, ApiKey
from weighbridge.errors import ErrorCode, WeighbridgeError

KEY_PREFIX = "wb_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(db: Session, name: str, account_name: str | None = None) -> tuple[str, Account]:
    """Create an API key for the named account (made if new; default: a new account)."""
    now = datetime.now(UTC)
    account = repo.find_account_by_name(db, account_name) if account_name else None
    if account is None:
        account = Account(id=ids.new_account_id(), name=account_name or name, created_on=now)
        repo.add(db, account)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    repo.add(
        db,
        ApiKey(
            id=str(uuid.uuid4()),
            account_id=account.id,
            name=name,
            key_hash=hash_key(key),
            created_on=now,
        ),
    )
    return key, account


def list_keys(db: Session) -> list[tuple[ApiKey, Account]]:
    """Every key (never the secret itself: only its hash is stored) with its account."""
    return repo.all_keys(db)


def revoke_key(db: Session, key_id: str) -> ApiKey:
    """Revoke a key by its id (from `list_keys`); requests with it then answer 401."""
    row = repo.get_key(db, key_id)
    if row is None:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"No API key with id {key_id}; "
                               "`weighbridge keys list` shows the ids.")
    if row.revoked_on is None:
        row.revoked_on = datetime.now(UTC)
        db.flush()
    return row


def authenticate(db: Session, key: str | None) -> str:
    """The account id that owns `key`, or 401."""
    if not key:
        raise WeighbridgeError(
            ErrorCode.UNAUTHORIZED,
            "Missing API key: send it in the X-api-key header "
            "(create one with `weighbridge keys create --name NAME`).",
        )
    row = repo.find_active_key(db, hash_key(key))
    if row is None:
        raise WeighbridgeError(
            ErrorCode.UNAUTHORIZED, "Unknown or revoked API key: check the X-api-key header."
        )
    return row.account_id
