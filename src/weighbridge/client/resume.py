"""Resume state: what an interrupted upload or download needs to pick up where it stopped.

One small JSON file per transfer, named by a hash of everything that makes it "the same"
(an upload: server, file sha256, size, chunk plan, name, adapter flags; a download: server,
model and target path), in the state folder:

    <state dir>/uploads/<key>.json     {"version": 1, "idempotencyKey", "sessionId"}
    <state dir>/uploads/<key>.lock     flock()ed by the process uploading it right now
    <state dir>/uploads/inputs/<input key>.json   {"version": 1, "uploadKey"}
    <state dir>/downloads/<key>.json   {"version": 1, "validator", "sizeBytes"}
    <state dir>/downloads/<key>.lock   flock()ed by the process downloading it right now

An upload's state is the server session its chunks went to. The `inputs` index names,
per server and local path, the upload key last used for it: when the file or the chunk
plan changed, the new upload finds (and aborts) the session the old one left open. A download's is the validator
(ETag) the bytes in `<target>.part` came with, sent back as `If-Range` so a changed
export restarts from zero instead of splicing two versions together.


An upload's state is written before the session is started (so a start whose answer was
lost is retried with the same Idempotency-Key), updated with the session id, and deleted
once the upload is completed; a download's is written when the first answer names its
validator and deleted once the file is in place. Writes are atomic (temp file, fsync, rename). A file that cannot be read,
is not valid JSON or has another version is deleted and ignored: resuming is an
optimisation, never a reason to fail. The lock keeps two concurrent imports of the same
input from filling (and completing) one session between them, and two downloads from
writing one `.part` file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass
class DownloadState:
    validator: str
    size_bytes: int | None = None
    version: int = STATE_VERSION


def state_key(**identity: Any) -> str:
    """A stable name for a transfer from the fields that identify it."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _StateFolder:
    """Versioned JSON states and their locks in one folder, one file per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def _load_raw(self, key: str) -> dict[str, Any] | None:
        """The state's JSON object; None when absent. Raises ValueError when unusable."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError("unreadable") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError("unknown version")
        return data

    def _save_raw(self, key: str, payload: dict[str, Any]) -> None:
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
            pass  # a read-only home must not stop a transfer; it just cannot be resumed

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """Hold the transfer's lock while inside; yields False if another process holds it."""
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
        """Forget a transfer (finished, or its state was unreadable)."""
        for path in (self._path(key), self.folder / f"{key}.lock"):
            with contextlib.suppress(OSError):
                path.unlink()


class ResumeStore(_StateFolder):
    """Upload states under `directory/uploads`, one file per upload key."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / "uploads")
        self._inputs = _StateFolder(self.folder / "inputs")

    def load(self, key: str) -> UploadState | None:
        try:
            data = self._load_raw(key)
            if data is None:
                return None
            session_id = data.get("sessionId")
            return UploadState(
                idempotency_key=str(data["idempotencyKey"]),
                session_id=str(session_id) if session_id else None,
            )
        except (ValueError, KeyError, TypeError):
            self.delete(key)  # heal: a broken state file only costs a fresh upload
            return None

    def save(self, key: str, state: UploadState) -> None:
        self._save_raw(
            key,
            {
                "version": state.version,
                "idempotencyKey": state.idempotency_key,
                "sessionId": state.session_id,
            },
        )

    def last_upload_of(self, input_key: str) -> str | None:
        """The upload key last used for an input (server and local path), if any."""
        try:
            data = self._inputs._load_raw(input_key)
            key = data.get("uploadKey") if data is not None else None
            if data is not None and not isinstance(key, str):
                raise ValueError("no upload key")
            return key
        except ValueError:
            self._inputs.delete(input_key)
            return None

    def set_last_upload(self, input_key: str, key: str | None) -> None:
        """Record (or, with None, forget) the upload key last used for an input."""
        if key is None:
            self._inputs.delete(input_key)
        else:
            self._inputs._save_raw(input_key, {"version": STATE_VERSION, "uploadKey": key})


class DownloadStore(_StateFolder):
    """Download states under `directory/downloads`, one file per download key."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / "downloads")

    def load(self, key: str) -> DownloadState | None:
        try:
            data = self._load_raw(key)
            if data is None:
                return None
            validator, size = data["validator"], data.get("sizeBytes")
            if not isinstance(validator, str) or not validator:
                raise ValueError("no validator")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
                raise ValueError("bad size")
            return DownloadState(validator=validator, size_bytes=size)
        except (ValueError, KeyError, TypeError):
            self.delete(key)  # heal: a broken state file only costs a fresh download
            return None

    def save(self, key: str, state: DownloadState) -> None:
        self._save_raw(
            key,
            {"version": state.version, "validator": state.validator, "sizeBytes": state.size_bytes},
        )
