"""What a job handler gets: the job, the resources, and a progress reporter that keeps
the lease alive."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from weighbridge.db.engine import Database
from weighbridge.db.tables import Job
from weighbridge.services import jobs
from weighbridge.settings import Settings
from weighbridge.storage.base import BlobStore

PROGRESS_EVERY_SECONDS = 0.5


class LeaseLost(Exception):
    """Another runner owns this job now (ours ran out); stop without touching it."""


@dataclass
class JobContext:
    job: Job
    owner: str
    database: Database
    store: BlobStore
    settings: Settings
    _last_report: float = field(default=0.0)

    def progress(self, phase: str, fraction: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_EVERY_SECONDS:
            return
        self._last_report = now
        percentage = max(0, min(99, int(fraction * 99)))
        with self.database.transaction() as db:
            if not jobs.report_progress(db, self.job.id, self.owner, phase, percentage,
                                        self.settings.job_lease_seconds):
                raise LeaseLost(self.job.id)
