"""Dock statuses: creating jobs, reading them, and the lease rules runners follow.

A job is IN_PROGRESS until it ends in SUCCESS or FAILED. A runner holds a lease on the
job while it works and renews it with every progress report; a runner that dies stops
renewing, the lease runs out, and another runner (after a restart, or in another server
process) claims the job and runs it again from the start. After `job_max_attempts` claims
the job fails with INTERRUPTED instead of being retried for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from weighbridge import ids
from weighbridge.db.repos import jobs as repo
from weighbridge.db.tables import Job, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError


class JobStatus:
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class Action:
    IMPORT = "IMPORT"
    EXPORT = "EXPORT"
    DELETE = "DELETE"


def create_import(db: Session, session: UploadSession) -> Job:
    now = datetime.now(UTC)
    job = Job(
        id=ids.new_dock_status_id(), account_id=session.account_id, model_id=session.model_id,
        session_id=session.id, action=Action.IMPORT, status=JobStatus.IN_PROGRESS,
        phase="QUEUED", percentage=0, attempts=0, created_on=now, updated_on=now,
    )
    repo.add(db, job)
    return job


def create_for_model(db: Session, account_id: str, model_id: str, action: str) -> Job:
    now = datetime.now(UTC)
    job = Job(
        id=ids.new_dock_status_id(), account_id=account_id, model_id=model_id, session_id=None,
        action=action, status=JobStatus.IN_PROGRESS, phase="QUEUED", percentage=0, attempts=0,
        created_on=now, updated_on=now,
    )
    repo.add(db, job)
    return job


def get_owned(db: Session, account_id: str, job_id: str) -> Job:
    job = repo.get_for_account(db, account_id, job_id) if ids.is_dock_status_id(job_id) else None
    if job is None:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"Dock status {job_id} not found; use the "
                               "dockStatusId that complete answered.")
    return job


def claim_next(db: Session, owner: str, lease_seconds: int) -> Job | None:
    now = datetime.now(UTC)
    for job_id in repo.claimable_ids(db, now, limit=5):
        if repo.try_claim(db, job_id, owner, now, now + timedelta(seconds=lease_seconds)):
            return repo.get(db, job_id)
    return None


def report_progress(db: Session, job_id: str, owner: str, phase: str, percentage: int,
                    lease_seconds: int) -> bool:
    """Record progress and renew the lease; False means the lease was lost: stop working."""
    now = datetime.now(UTC)
    return repo.update_owned(db, job_id, owner, phase=phase, percentage=percentage,
                             updated_on=now, lease_expires_on=now + timedelta(seconds=lease_seconds))


def finish(db: Session, job_id: str, owner: str, *, error: WeighbridgeError | None = None) -> bool:
    now = datetime.now(UTC)
    if error is None:
        return repo.update_owned(db, job_id, owner, status=JobStatus.SUCCESS, phase="DONE",
                                 percentage=100, updated_on=now, lease_expires_on=None)
    return repo.update_owned(db, job_id, owner, status=JobStatus.FAILED, phase="FAILED",
                             error_code=str(error.code), error_msg=error.msg[:2048],
                             updated_on=now, lease_expires_on=None)
