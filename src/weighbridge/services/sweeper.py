"""Freeing the storage of sessions that will never complete.

Each pass: OPEN sessions past `expires_on` become EXPIRED and lose their chunk rows;
then every EXPIRED or ABORTED session whose blobs are not yet known to be gone has its
whole storage prefix deleted (this also removes temporary files a killed server left
behind mid-chunk) and is marked freed. A chunk upload racing with expiry is safe: it
re-checks the session under lock before recording its row (services/chunk_intake.py),
and its blob lies under the prefix that is deleted here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from weighbridge.db.engine import Database
from weighbridge.db.repos import sessions as repo
from weighbridge.services import upload_sessions
from weighbridge.services.upload_sessions import Status
from weighbridge.storage.base import BlobStore

log = logging.getLogger("weighbridge.sweeper")
BATCH = 100


@dataclass(frozen=True)
class SweepReport:
    expired: int
    freed: int


def sweep_once(database: Database, store: BlobStore) -> SweepReport:
    now = datetime.now(UTC)
    with database.transaction() as db:
        expired = repo.open_expired_before(db, now, BATCH)
        for row in expired:
            repo.delete_chunks(db, row.id)
            row.status = Status.EXPIRED
        db.flush()
    with database.transaction() as db:
        ended = [row.id for row in repo.ended_not_freed(db, [Status.EXPIRED, Status.ABORTED],
                                                         BATCH)]
    for session_id in ended:
        upload_sessions.free_chunks(store, session_id)
    if ended:
        with database.transaction() as db:
            for session_id in ended:
                freed = repo.get(db, session_id)
                if freed is not None:
                    freed.freed_on = now
    if expired or ended:
        log.info("sweeper.pass expired=%d freed=%d", len(expired), len(ended))
    return SweepReport(len(expired), len(ended))


class Sweeper:
    """Runs `sweep_once` every `interval_seconds` in a daemon thread."""

    def __init__(self, database: Database, store: BlobStore, interval_seconds: float) -> None:
        self._database = database
        self._store = store
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                sweep_once(self._database, self._store)
            except Exception:
                log.exception("sweeper.failed")
