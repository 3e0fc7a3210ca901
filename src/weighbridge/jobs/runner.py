"""The job runner: worker threads that claim jobs by lease and run their handlers.

Any number of runners, in one process or many sharing the database, can run side by
side; the conditional claim in the jobs repo lets exactly one take each job. A job
whose runner died is claimed again when its lease runs out.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from weighbridge.db.engine import Database
from weighbridge.db.tables import Job
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.jobs import import_job, model_jobs
from weighbridge.jobs.context import JobContext, LeaseLost
from weighbridge.services import jobs
from weighbridge.settings import Settings
from weighbridge.storage.base import BlobStore

log = logging.getLogger("weighbridge.jobs")

HANDLERS: dict[str, Callable[[JobContext], None]] = {
    jobs.Action.IMPORT: import_job.run,
    jobs.Action.EXPORT: model_jobs.run_export,
    jobs.Action.DELETE: model_jobs.run_delete,
}
CLEANUPS: dict[str, Callable[[JobContext], None]] = {
    jobs.Action.IMPORT: import_job.release_chunks}


class JobRunner:
    def __init__(self, database: Database, store: BlobStore, settings: Settings) -> None:
        self._database = database
        self._store = store
        self._settings = settings
        self._owner = f"runner-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self._settings.job_workers):
            t = threading.Thread(target=self._loop, name=f"job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        """A job was just committed: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._database.transaction() as db:
                    job = jobs.claim_next(db, self._owner, self._settings.job_lease_seconds)
            except Exception:
                log.exception("jobs.claim.failed")
                job = None
            if job is None:
                self._wake.wait(self._settings.job_poll_seconds)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        ctx = JobContext(job, self._owner, self._database, self._store, self._settings)
        log.info("jobs.run.start id=%s action=%s attempt=%d", job.id, job.action, job.attempts)
        try:
            if job.attempts > self._settings.job_max_attempts:
                raise WeighbridgeError(ErrorCode.INTERRUPTED, f"The job was interrupted "
                                       f"{job.attempts - 1} times (server restarts or crashes) "
                                       "and was given up; upload the file again.")
            HANDLERS[job.action](ctx)
            log.info("jobs.run.success id=%s", job.id)
        except LeaseLost:
            log.warning("jobs.run.lease_lost id=%s", job.id)
            return
        except WeighbridgeError as exc:
            log.info("jobs.run.failed id=%s code=%s", job.id, exc.code)
            self._fail(job, exc)
        except Exception:
            log.exception("jobs.run.crashed id=%s", job.id)
            self._fail(job, WeighbridgeError(ErrorCode.INTERNAL, "The job failed on an "
                                             "unexpected server error; the server log has the "
                                             "details. Try the upload again."))
        cleanup = CLEANUPS.get(job.action)
        if cleanup is not None:
            try:
                cleanup(ctx)
            except Exception:
                log.exception("jobs.cleanup.failed id=%s", job.id)

    def _fail(self, job: Job, error: WeighbridgeError) -> None:
        with self._database.transaction() as db:
            jobs.finish(db, job.id, self._owner, error=error)
