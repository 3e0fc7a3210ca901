"""Queries on jobs (dock statuses), including the lease-based claim."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from weighbridge.db.tables import Job


def get_for_account(db: Session, account_id: str, job_id: str) -> Job | None:
    return db.scalars(select(Job).where(Job.id == job_id, Job.account_id == account_id)).first()


def get(db: Session, job_id: str) -> Job | None:
    return db.get(Job, job_id)


def add(db: Session, row: Job) -> None:
    db.add(row)
    db.flush()


def claimable_ids(db: Session, now: datetime, limit: int) -> list[str]:
    """Jobs still to run whose lease is free: never taken, or its holder stopped renewing."""
    return list(
        db.scalars(
            select(Job.id)
            .where(
                Job.status == "IN_PROGRESS",
                or_(Job.lease_expires_on.is_(None), Job.lease_expires_on < now),
            )
            .order_by(Job.created_on)
            .limit(limit)
        ).all()
    )


def try_claim(db: Session, job_id: str, owner: str, now: datetime, until: datetime) -> bool:
    """Take the lease if it is still free; a conditional UPDATE, so only one runner wins."""
    result = db.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.status == "IN_PROGRESS",
            or_(Job.lease_expires_on.is_(None), Job.lease_expires_on < now),
        )
        .values(
            lease_owner=owner, lease_expires_on=until, attempts=Job.attempts + 1, updated_on=now
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def update_owned(db: Session, job_id: str, owner: str, **values: object) -> bool:
    """Change a job only while `owner` holds its lease (a lost lease means stop)."""
    result = db.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.status == "IN_PROGRESS")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
