"""Resume state: which server session an interrupted upload of the same input belongs to.

One small JSON file per upload, named by a hash of everything that makes an upload "the
same" (server, file sha256, size, chunk plan, name, adapter flags), in the state folder:

    <state dir>/uploads/<key>.json   {"version": 1, "idempotencyKey", "sessionId"}
    <state dir>/uploads/<key>.lock   flock()ed by the process uploading it right now

It is written before the session is started (so a start whose answer was lost is retried
with the same Idempotency-Key), updated with the session id, and deleted once the upload
is completed. Writes are atomic (temp file, fsync, rename). A file that cannot be read,
is not valid JSON or has another version is deleted and ignored: resuming is an
optimisation, never a reason to fail. The lock keeps two concurrent imports of the same
input from filling (and completing) one session between them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent imports just do not resume
    fcntl = None  # type: ignore[assignment]

STATE_VERSION = 1


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/weighbridge` (or ~/.local/state/weighbridge): stdlib only."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "weighbridge"


@dataclass
class UploadState:
    idempotency_key: str
    session_id: str | None = None
    version: int = STATE_VERSION


def upload_key(**identity: Any) -> str:
    """A stable name for an upload from the fields that identify it."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResumeStore:
    """Upload states under `directory/uploads`, one file per upload key."""

    def __init__(self, directory: Path) -> None:
        self.folder = directory / "uploads"

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> UploadState | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                raise ValueError("unknown version")
            session_id = data.get("sessionId")
            return UploadState(
                idempotency_key=str(data["idempotencyKey"]),
                session_id=str(session_id) if session_id else None,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            self.delete(key)  # heal: a broken state file only costs a fresh upload
            return None

    def save(self, key: str, state: UploadState) -> None:
        data = asdict(state)
        payload = {
            "version": data["version"],
            "idempotencyKey": data["idempotency_key"],
            "sessionId": data["session_id"],
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(payload, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._path(key))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only home must not stop an upload; it just cannot be resumed

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """Hold the upload's lock while inside; yields False if another process holds it."""
        if fcntl is None:
            yield False
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the lock; the lock file stays, harmless and reused

    def delete(self, key: str) -> None:
        """Forget an upload (finished, or its state was unreadable)."""
        for path in (self._path(key), self.folder / f"{key}.lock"):
            with contextlib.suppress(OSError):
                path.unlink()
