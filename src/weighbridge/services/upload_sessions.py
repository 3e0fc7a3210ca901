"""The upload-session state machine: start → chunks → complete, or abort / expiry.

    OPEN ──complete──▶ COMPLETED (one import job, created in the same transaction)
      │ ├──DELETE────▶ ABORTED   (chunks freed)
      │ └──time──────▶ EXPIRED   (shown as such once past expires_on)

Every change to a session happens with its row locked, so a complete cannot interleave
with a chunk being recorded: a chunk either is recorded before complete looked, or is
refused after.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from weighbridge import ids
from weighbridge.db.repos import sessions as repo
from weighbridge.db.tables import Chunk, Job, StoredFile, UploadSession
from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.pipeline.run import UPLOAD_EXTENSIONS
from weighbridge.services import jobs, plain_files
from weighbridge.settings import Settings
from weighbridge.storage import layout
from weighbridge.storage.base import BlobStore

MODEL_CONTEXT = "model"
EXTENSIONS = UPLOAD_EXTENSIONS
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Plain-file contexts (DESIGN §2.8) are names, and their extensions anything file-like.
CONTEXT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
PLAIN_EXTENSION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,15}$")
MAX_FILE_NAME_BYTES = 255


class Status:
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class StartSpec:
    file_context: str
    total_chunks: int
    file_extension: str
    file_name: str
    file_size: int
    is_adapter: bool | None = None
    sha256: str | None = None
    chunk_size: int | None = None
    base_model: str | None = None
    name: str | None = None


def _bad(field: str, msg: str) -> WeighbridgeError:
    return WeighbridgeError(ErrorCode.INVALID_FIELD, msg, field=field)


def is_model(row: UploadSession) -> bool:
    return row.file_context == MODEL_CONTEXT


def normalise_extension(text: str, file_context: str = MODEL_CONTEXT) -> str:
    if file_context != MODEL_CONTEXT:
        plain = text.strip().lower().lstrip(".")
        if not PLAIN_EXTENSION_RE.match(plain):
            raise _bad("fileExtension", "fileExtension must be 1-16 letters, digits, '.', '_' "
                       "or '-', e.g. 'csv'.")
        return plain
    ext = EXTENSIONS.get(text.strip().lower().lstrip("."))
    if ext is None:
        raise _bad("fileExtension", f"fileExtension {text!r} is not supported; use one of "
                   "tar, tar.gz, tgz, zip, safetensors, gguf.")
    return ext


def has_control_chars(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _check_file_name(name: str) -> None:
    if (not name or name in (".", "..") or any(c in name for c in "/\\")
            or has_control_chars(name) or len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES):
        raise _bad("fileName", "fileName must be a plain file name: 1-255 bytes, no path "
                   "separators and no control characters (NUL, newline, ...).")


def _check_spec(spec: StartSpec, settings: Settings) -> None:
    if not CONTEXT_RE.match(spec.file_context):
        raise _bad("fileContext", "fileContext must be 'model' for a model import, or a plain "
                   "name (letters, digits, '_' or '-') for a plain file.")
    _check_file_name(spec.file_name)
    if spec.file_size < 1:
        raise _bad("fileSize", "fileSize must be at least 1 byte.")
    if spec.file_size > settings.max_file_size_bytes:
        raise WeighbridgeError(ErrorCode.TOO_LARGE, f"fileSize {spec.file_size} is over this "
                               f"server's limit of {settings.max_file_size_bytes} bytes.",
                               field="fileSize")
    if not 1 <= spec.total_chunks <= settings.max_chunks:
        raise _bad("totalChunks", f"totalChunks must be between 1 and {settings.max_chunks}; "
                   "use larger chunks for a file this big.")
    if spec.total_chunks > spec.file_size:
        raise _bad("totalChunks", "totalChunks is larger than fileSize; every chunk holds at "
                   "least one byte.")
    if math.ceil(spec.file_size / spec.total_chunks) > settings.max_chunk_size_bytes:
        raise _bad("totalChunks", f"{spec.total_chunks} chunks cannot carry {spec.file_size} "
                   f"bytes within the maximum chunk size of {settings.max_chunk_size_bytes} "
                   "bytes; use more chunks.")
    if spec.sha256 is not None and not SHA256_RE.match(spec.sha256):
        raise _bad("sha256", "sha256 must be the file's sha256 as 64 hex digits.")
    if spec.sha256 is not None and spec.file_context != MODEL_CONTEXT:
        raise _bad("sha256", "sha256 is verified by the model import job only; for a plain "
                   "file, send X-Chunk-Sha256 with each chunk instead.")
    for field_name, text in (("name", spec.name), ("baseModel", spec.base_model)):
        if text is not None and has_control_chars(text):
            raise _bad(field_name, f"{field_name} must not contain control characters.")
    if spec.chunk_size is not None:
        cs, n = spec.chunk_size, spec.total_chunks
        if not 1 <= cs <= settings.max_chunk_size_bytes:
            raise _bad("chunkSize", f"chunkSize must be between 1 and "
                       f"{settings.max_chunk_size_bytes} bytes.")
        if not cs * (n - 1) < spec.file_size <= cs * n:
            raise _bad("chunkSize", f"chunkSize {cs} × totalChunks {n} does not fit fileSize "
                       f"{spec.file_size}: every chunk but the last must be exactly chunkSize.")


def start(db: Session, settings: Settings, account_id: str, spec: StartSpec,
          idempotency_key: str | None) -> UploadSession:
    if idempotency_key:
        earlier = repo.find_by_idempotency_key(db, account_id, idempotency_key)
        if earlier is not None:
            _check_same_start(earlier, spec)
            return earlier
    _check_spec(spec, settings)
    spec = StartSpec(**{**spec.__dict__, "file_extension": normalise_extension(
        spec.file_extension, spec.file_context)})
    now = datetime.now(UTC)
    if repo.count_open(db, account_id, now) >= settings.max_open_sessions_per_account:
        raise WeighbridgeError(ErrorCode.TOO_MANY_SESSIONS, f"This account already has "
                               f"{settings.max_open_sessions_per_account} open upload sessions; "
                               "complete or abort (DELETE) some before starting more.")
    row = UploadSession(
        id=ids.new_session_id(), account_id=account_id, file_context=spec.file_context,
        total_chunks=spec.total_chunks, file_extension=spec.file_extension,
        file_name=spec.file_name, file_size=spec.file_size, is_adapter=spec.is_adapter,
        sha256=spec.sha256, chunk_size=spec.chunk_size, base_model=spec.base_model,
        model_id=ids.new_model_id(), model_name=spec.name, status=Status.OPEN, idempotency_key=idempotency_key,
        created_on=now, expires_on=now + timedelta(seconds=settings.session_ttl_seconds),
    )
    repo.add(db, row)
    return row


def _check_same_start(earlier: UploadSession, spec: StartSpec) -> None:
    """A retried start must be the same request; a reused key with other values is a bug."""
    try:
        ext = normalise_extension(spec.file_extension, spec.file_context)
    except WeighbridgeError:
        ext = spec.file_extension
    same = (earlier.file_context, earlier.total_chunks, earlier.file_extension,
            earlier.file_name, earlier.file_size, earlier.sha256, earlier.chunk_size) == \
        (spec.file_context, spec.total_chunks, ext, spec.file_name, spec.file_size,
         spec.sha256, spec.chunk_size)
    if not same:
        raise WeighbridgeError(ErrorCode.IDEMPOTENCY_MISMATCH, "This Idempotency-Key was "
                               f"already used for session {earlier.id} with other values; use a "
                               "new key for a new upload.", sessionId=earlier.id)


def status_of(row: UploadSession, now: datetime | None = None) -> str:
    if row.status == Status.OPEN and (now or datetime.now(UTC)) >= row.expires_on:
        return Status.EXPIRED
    return row.status


def get_owned(db: Session, account_id: str, session_id: str, *, lock: bool = False
              ) -> UploadSession:
    row = repo.get_for_account(db, account_id, session_id, lock=lock) \
        if ids.is_session_id(session_id) else None
    if row is None:
        raise WeighbridgeError(ErrorCode.NOT_FOUND, f"Upload session {session_id} not found; "
                               "start a new one with POST /api/public/files/session/start.")
    return row


def require_open(row: UploadSession) -> None:
    """Raise the error a chunk upload or complete gets on a session that is not OPEN."""
    status = status_of(row)
    if status == Status.EXPIRED:
        raise WeighbridgeError(ErrorCode.SESSION_EXPIRED, f"Upload session {row.id} expired at "
                               f"{row.expires_on.isoformat()}; start a new session.")
    if status == Status.ABORTED:
        raise WeighbridgeError(ErrorCode.SESSION_ABORTED,
                               f"Upload session {row.id} was aborted; start a new session.")
    if status == Status.COMPLETED:
        raise WeighbridgeError(ErrorCode.SESSION_COMPLETED, f"Upload session {row.id} is "
                               "already completed; its chunks can no longer change.")


SESSION_FIELDS = {"fileContext": "file_context", "totalChunks": "total_chunks",
                  "fileExtension": "file_extension", "fileName": "file_name",
                  "fileSize": "file_size"}


def check_metadata(row: UploadSession, fields: dict[str, Any]) -> None:
    """GALE clients may repeat the session's fields on chunks and complete; they must match."""
    for api_name, attr in SESSION_FIELDS.items():
        if fields.get(api_name) is None:
            continue
        sent, own = fields[api_name], getattr(row, attr)
        if api_name == "fileExtension":
            try:
                same = normalise_extension(str(sent), row.file_context) == own
            except WeighbridgeError:
                same = False
        else:
            same = str(sent).strip() == str(own)
        if not same:
            raise WeighbridgeError(ErrorCode.METADATA_MISMATCH, f"{api_name} {sent!r} does not "
                                   f"match the session's {own!r}; send the values given at start "
                                   "or leave the field out.", field=api_name)


def complete(db: Session, account_id: str, session_id: str, fields: dict[str, Any]
             ) -> Job | StoredFile:
    """Close the session: a model session gets its import job, a plain one its file."""
    row = get_owned(db, account_id, session_id, lock=True)
    check_metadata(row, fields)
    if row.status == Status.COMPLETED:
        # A client that lost the first answer retries: hand back the same outcome.
        if row.job_id:
            return jobs.get_owned(db, account_id, row.job_id)
        return plain_files.of_session(db, row.id)
    require_open(row)
    received = repo.chunks(db, row.id)
    have = {c.chunk_number for c in received}
    missing = [n for n in range(row.total_chunks) if n not in have]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        raise WeighbridgeError(ErrorCode.UPLOAD_INCOMPLETE, f"{len(missing)} of "
                               f"{row.total_chunks} chunks are missing ({shown}); upload them, "
                               "then complete again.", missingChunks=missing)
    total = sum(c.size for c in received)
    if total != row.file_size:
        raise WeighbridgeError(ErrorCode.SIZE_MISMATCH, f"The chunks add up to {total} bytes but "
                               f"fileSize is {row.file_size}; re-upload the wrong chunks or "
                               "start a new session with the right fileSize.")
    row.status = Status.COMPLETED
    row.completed_on = datetime.now(UTC)
    outcome: Job | StoredFile
    if is_model(row):
        outcome = jobs.create_import(db, row)
        row.job_id = outcome.id
    else:
        outcome = plain_files.create(db, row)
    db.flush()
    return outcome


def list_owned(db: Session, account_id: str, status: str | None, limit: int, offset: int
               ) -> list[tuple[UploadSession, int]]:
    """The account's sessions with their received bytes, so a client can find and abort
    the ones it no longer needs (open sessions count against a per-account limit)."""
    return repo.list_for_account(db, account_id, status, datetime.now(UTC), limit, offset)


def state(db: Session, account_id: str, session_id: str
          ) -> tuple[UploadSession, Sequence[Chunk]]:
    row = get_owned(db, account_id, session_id)
    return row, repo.chunks(db, row.id)


def abort(db: Session, account_id: str, session_id: str) -> UploadSession:
    """Mark the session ABORTED and forget its chunks; call `free_chunks` after commit."""
    row = get_owned(db, account_id, session_id, lock=True)
    if row.status == Status.COMPLETED:
        raise WeighbridgeError(ErrorCode.SESSION_COMPLETED, f"Upload session {row.id} is "
                               "completed; its import job owns the chunks now.")
    repo.delete_chunks(db, row.id)
    row.status = Status.ABORTED
    db.flush()
    return row


def free_chunks(store: BlobStore, session_id: str) -> None:
    """Delete every stored chunk of a session that no longer needs them."""
    store.delete_prefix(layout.session_prefix(session_id))
