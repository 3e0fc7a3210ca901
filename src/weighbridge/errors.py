"""The error-code registry: every error weighbridge reports, with its HTTP status.

Errors are raised low (services, storage, the pipeline) as `WeighbridgeError` with a
code and a sentence that says what to do, and rendered once: by `api/errors.py` for
HTTP and by the CLI's entry point for people. Job failures store the same code and
message in the dock status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # request errors
    UNAUTHORIZED = "UNAUTHORIZED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    IDEMPOTENCY_MISMATCH = "IDEMPOTENCY_MISMATCH"
    CLIENT_DISCONNECTED = "CLIENT_DISCONNECTED"
    INVALID_FIELD = "INVALID_FIELD"
    INVALID_CHUNK_NUMBER = "INVALID_CHUNK_NUMBER"
    EMPTY_CHUNK = "EMPTY_CHUNK"
    CHUNK_CHECKSUM_MISMATCH = "CHUNK_CHECKSUM_MISMATCH"
    METADATA_MISMATCH = "METADATA_MISMATCH"
    SESSION_COMPLETED = "SESSION_COMPLETED"
    UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    SESSION_EXPIRED = "SESSION_EXPIRED"
    SESSION_ABORTED = "SESSION_ABORTED"
    GONE = "GONE"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    TOO_LARGE = "TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_MANY_SESSIONS = "TOO_MANY_SESSIONS"
    CHUNK_TIMEOUT = "CHUNK_TIMEOUT"
    OUT_OF_STORAGE = "OUT_OF_STORAGE"
    INTERNAL = "INTERNAL"
    # import job failures
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    UNSAFE_ARCHIVE = "UNSAFE_ARCHIVE"
    UNSAFE_PICKLE = "UNSAFE_PICKLE"
    CORRUPT_ARCHIVE = "CORRUPT_ARCHIVE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    INVALID_MODEL = "INVALID_MODEL"
    ADAPTER_MISMATCH = "ADAPTER_MISMATCH"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    INTERRUPTED = "INTERRUPTED"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.IDEMPOTENCY_MISMATCH: 409,
    ErrorCode.CLIENT_DISCONNECTED: 400,
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.INVALID_CHUNK_NUMBER: 400,
    ErrorCode.EMPTY_CHUNK: 400,
    ErrorCode.CHUNK_CHECKSUM_MISMATCH: 400,
    ErrorCode.METADATA_MISMATCH: 400,
    ErrorCode.SESSION_COMPLETED: 409,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
    ErrorCode.SIZE_MISMATCH: 409,
    ErrorCode.SESSION_EXPIRED: 410,
    ErrorCode.SESSION_ABORTED: 410,
    ErrorCode.GONE: 410,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TOO_MANY_SESSIONS: 429,
    ErrorCode.CHUNK_TIMEOUT: 408,
    ErrorCode.OUT_OF_STORAGE: 507,
    ErrorCode.INTERNAL: 500,
}


class WeighbridgeError(Exception):
    """An error with a stable code and a message a person can act on.

    `extra` carries machine-readable details that are sent beside code and msg
    (for example `missingChunks`).
    """

    def __init__(self, code: ErrorCode, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.extra = extra

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "msg": self.msg, **self.extra}

    def __repr__(self) -> str:
        return f"WeighbridgeError({self.code!s}, {self.msg!r})"


class PipelineError(WeighbridgeError):
    """An import job failure: the upload is unusable as a model, for the reason given."""
