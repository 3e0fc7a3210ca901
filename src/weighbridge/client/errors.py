"""The SDK's exceptions: everything `weighbridge.Client` raises derives from one base.

Foreign exceptions (httpx's, OSError from reading the model) are translated where they
enter the SDK and kept as `__cause__`, so callers only ever catch these classes:

- `ApiError`: the server answered with an error status; carries its code and message.
- `JobFailed`: a server job (export, delete) ended FAILED; `ImportFailed` is the import's.
- `ImportFailed`: the upload went through but the import job ended FAILED.
- `TransportError`: the server could not be reached, even after retrying.
- `LocalInputError`: the path to upload or an option is unusable (caught before upload),
  or a downloaded file cannot be written.
- `DownloadError`: a download's bytes cannot be the expected file (size or contents).
"""

from __future__ import annotations

from typing import Any


class WeighbridgeClientError(Exception):
    """Base class of every error the SDK raises; `code` and `msg` are always set."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg

    def to_dict(self) -> dict[str, Any]:
        """The error as `{"code", "msg"}`, the shape the server uses for one error."""
        return {"code": self.code, "msg": self.msg}

    def __str__(self) -> str:
        return f"{self.code}: {self.msg}"


class ApiError(WeighbridgeClientError):
    """The server refused a request: HTTP `status`, the first error's `code` and `msg`.

    `body` is the decoded JSON answer (or None when it was not JSON), so callers can read
    extra fields such as `missingChunks`.
    """

    def __init__(self, status: int, code: str, msg: str, body: Any = None) -> None:
        super().__init__(code, msg)
        self.status = status
        self.body = body

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "status": self.status}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.msg!r})"


class JobFailed(WeighbridgeClientError):
    """A server job ended FAILED; `dock_status` is the job's last status document."""

    def __init__(self, code: str, msg: str, dock_status: dict[str, Any]) -> None:
        super().__init__(code, msg)
        self.dock_status = dock_status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.msg!r})"


class ImportFailed(JobFailed):
    """The import job ended FAILED: the server refused the model (see `code`)."""


class TransportError(WeighbridgeClientError):
    """No usable answer from the server after every retry (connection refused, timeouts)."""

    def __init__(self, msg: str, attempts: int) -> None:
        super().__init__("CONNECTION_FAILED", msg)
        self.attempts = attempts


class DownloadError(WeighbridgeClientError):
    """A download's bytes cannot be the expected file; the partial file was deleted."""


class LocalInputError(WeighbridgeClientError):
    """The local input cannot be uploaded as asked (bad path, symlink, chunk size, ...)."""

    def __init__(self, msg: str, code: str = "INVALID_INPUT") -> None:
        super().__init__(code, msg)
