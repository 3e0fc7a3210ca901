"""Resumable download of one URL into a local file: streamed, validated, atomic.

`download_file` writes the body into `<target>.part` as it arrives, through a 1 MiB write
buffer (the body is never held whole, and a drop loses none of what arrived), and renames
it to `<target>` only once it holds exactly the expected number of bytes and the caller's
`check` accepts it. When a connection drops mid-body, it asks for the rest with
`Range: bytes=<bytes written>-` and `If-Range: <validator>`, so a body that changed on the
server meanwhile comes back whole (200) and restarts from zero instead of splicing two
versions together. The validator (a strong ETag, else
Last-Modified) is kept in a `DownloadStore`, so a later run resumes the same `.part`.

Invariants: the `.part` file is always a prefix of one version of the body; nothing but a
complete, checked body is ever at `<target>`; a body without a validator is never resumed.
Drops are retried with the transport's backoff; every attempt that brings new bytes starts
the count of attempts afresh, so a long download survives any number of separate drops. An
error status outlasting the retries (5xx, 429) is raised as the server's `ApiError`, not a
connection failure; a `.part` that a failure left empty is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import httpx

from weighbridge.client.errors import ApiError, DownloadError, LocalInputError, TransportError
from weighbridge.client.resume import DownloadState, DownloadStore
from weighbridge.client.transport import (
    StreamBroken,
    Transport,
    is_retryable_status,
    parse_retry_after,
)

PIECE_SIZE = 1024 * 1024
ProgressCallback = Callable[[int, int], None]
CheckCallback = Callable[[Path], None]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    resumed_bytes: int  # bytes of an earlier, interrupted download that were kept


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _validator(headers: httpx.Headers) -> str | None:
    """What If-Range may carry: a strong ETag or, lacking one, Last-Modified."""
    etag = str(headers.get("ETag") or "")
    if etag and not etag.startswith("W/"):
        return etag
    return str(headers.get("Last-Modified") or "") or None


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """(first byte, total or None) of a `Content-Range: bytes a-b/total` header."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None
    first, _, total = match.groups()
    return int(first), None if total == "*" else int(total)


class _Download:
    """One download in progress: the open `.part` file and how far it has got."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        part: Path,
        fh: BinaryIO,
        expected_size: int | None,
        progress: ProgressCallback | None,
    ) -> None:
        self.transport = transport
        self.url = url
        self.part = part
        self.fh = fh
        self.size = expected_size
        self.progress = progress
        self.offset = 0
        self.reported = -1
        self.validator: str | None = None
        self.resumed_bytes = 0  # of the bytes found in `.part` at the start, those still kept

    def truncate(self, offset: int) -> None:
        self.fh.seek(offset)
        self.fh.truncate(offset)
        self.offset = offset
        self.resumed_bytes = min(self.resumed_bytes, offset)

    def report(self, *, every: int = 0) -> None:
        """Tell the caller; with `every`, only once that many bytes came since last time."""
        if self.progress is not None and self.offset - self.reported >= every:
            self.reported = self.offset
            self.progress(self.offset, self.size if self.size is not None else self.offset)

    def attempt(self, on_validator: Callable[[str, int | None], None]) -> None:
        """One GET from `offset` to the end; raises StreamBroken if the body is cut off."""
        if self.size is not None and self.offset >= self.size:
            # Ask again for the last byte rather than for none (416): the answer
            # confirms (206) or refutes (200) that the bytes held are current.
            self.truncate(max(0, self.size - 1))
        headers = {"Accept-Encoding": "identity"}  # ranges count bytes of the file itself
        if self.offset and self.validator:
            headers["Range"] = f"bytes={self.offset}-"
            headers["If-Range"] = self.validator
        elif self.offset:
            self.truncate(0)  # without a validator the bytes held cannot be trusted
        with self.transport.stream(self.url, headers) as response:
            self._accept(response, headers.get("If-Range"))
            validator = _validator(response.headers)
            if validator != self.validator:
                self.validator = validator
                if validator is not None:
                    on_validator(validator, self.size)
            self.report()
            try:
                for piece in self.transport.iter_body(response):
                    self.fh.write(piece)
                    self.offset += len(piece)
                    if self.size is not None and self.offset > self.size:
                        raise DownloadError(
                            "SIZE_MISMATCH",
                            f"The server sent more than the {self.size:,} bytes it announced; "
                            f"{self.part} was discarded.",
                        )
                    self.report(every=PIECE_SIZE)  # not per network read: a callback costs
            except StreamBroken:
                if self.size is None or self.offset != self.size:
                    raise  # (else it broke after the last byte: the body is whole)
            finally:
                self.report(every=1)
        if self.size is None:
            self.size = self.offset  # no length anywhere: a clean end is the end
        elif self.offset < self.size:
            raise StreamBroken(f"the body ended after {self.offset:,} of {self.size:,} bytes")

    def _accept(self, response: httpx.Response, sent_validator: str | None) -> None:
        """Check the status and where the body starts; truncate `.part` to match it."""
        status = response.status_code
        if status == 206:
            found = _content_range(response.headers.get("Content-Range"))
            if found is None or found[0] != self.offset:
                raise StreamBroken(f"the server sent a range other than bytes={self.offset}-")
            if sent_validator is not None and _validator(response.headers) != sent_validator:
                # A part of another version; HTTP forbids it, but never splice it in.
                self.truncate(0)
                self.validator = None
                raise StreamBroken("the server sent a range of a different version")
            self._agree_on_size(found[1])
        elif status == 200:
            # The whole body: the first request, a server without ranges, or If-Range
            # found that the body changed since the bytes held were written.
            self.truncate(0)
            length = response.headers.get("Content-Length")
            self._agree_on_size(int(length) if length and length.isdigit() else None)
        elif is_retryable_status(status):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _RetryableStatus(self.transport.error_of(response), retry_after)
        else:
            raise self.transport.error_of(response)

    def _agree_on_size(self, announced: int | None) -> None:
        if announced is None:
            return
        if self.size is None:
            self.size = announced
        elif announced != self.size:
            raise DownloadError(
                "SIZE_MISMATCH",
                f"The download is {announced:,} bytes but should be {self.size:,}; "
                "ask the server's operator, the export looks inconsistent.",
            )


class _RetryableStatus(StreamBroken):
    """An error status worth retrying (5xx, 429); `error` is what the server said."""

    def __init__(self, error: ApiError, retry_after: float | None) -> None:
        super().__init__(f"the server answered {error.status}")
        self.error = error
        self.retry_after = retry_after


def download_file(
    transport: Transport,
    url: str,
    target: Path,
    *,
    store: DownloadStore,
    key: str,
    expected_size: int | None,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    check: CheckCallback | None = None,
) -> DownloadResult:
    """Download `url` to `target` through `<target>.part`; see the module docstring.

    `key` names this download in `store` (the same target of the same thing gets the same
    key). `progress(bytes_done, bytes_total)` starts at the bytes kept from an earlier run.
    `check(part_path)` may raise `DownloadError` to refuse the finished body, which is then
    deleted; only then is it renamed to `target`.
    """
    part = part_path(target)
    with store.claim(key) as owned:
        if not owned and (store.folder / f"{key}.lock").exists():
            raise LocalInputError(
                f"Another download is writing {part}; wait for it or choose another output.",
                "BUSY",
            )
        state = store.load(key) if resume and owned else None
        if state is not None and state.size_bytes != expected_size:
            state = None  # another version of the export: its bytes are of no use

        def remember(validator: str, size: int | None) -> None:
            if owned:
                store.save(key, DownloadState(validator=validator, size_bytes=size))

        try:
            # Kept only with a validator to resume it by: other bytes cannot be trusted.
            mode: Literal["r+b", "wb"] = "r+b" if state is not None and part.is_file() else "wb"
            with open(part, mode, buffering=PIECE_SIZE) as fh:
                download = _Download(transport, url, part, fh, expected_size, progress)
                download.offset = download.resumed_bytes = fh.seek(0, os.SEEK_END)
                download.validator = state.validator if state is not None else None
                _run_attempts(transport, download, remember)
                fh.flush()
                os.fsync(fh.fileno())
            size = part.stat().st_size
            if size != download.size:
                raise DownloadError(
                    "SIZE_MISMATCH", f"{part} holds {size:,} bytes, not {download.size:,}."
                )
            if check is not None:
                check(part)
            os.replace(part, target)
        except DownloadError:
            with contextlib.suppress(OSError):
                part.unlink()  # wrong bytes: resuming them could only give a wrong file
            store.delete(key)
            raise
        except OSError as exc:
            raise LocalInputError(
                f"Cannot write {part}: {exc.strerror or exc}.", "WRITE_FAILED"
            ) from exc
        finally:  # a `.part` without a byte is nothing to resume (after success it is gone)
            with contextlib.suppress(OSError):
                if part.stat().st_size == 0:
                    part.unlink()
                    store.delete(key)
        if owned:
            store.delete(key)
    return DownloadResult(target, size, download.resumed_bytes)


def _run_attempts(
    transport: Transport, download: _Download, remember: Callable[[str, int | None], None]
) -> None:
    policy = transport.retry
    failures = 0
    while True:
        before = download.offset
        try:
            download.attempt(remember)
            return
        except StreamBroken as exc:
            failures = 1 if download.offset > before else failures + 1
            if failures >= policy.max_attempts:
                if isinstance(exc, _RetryableStatus):
                    raise exc.error from exc  # the server's own answer, not a wire problem
                kept = f"{download.offset:,} bytes are kept in {download.part}: to resume,"
                if not download.offset:
                    kept = "nothing arrived:"
                raise TransportError(
                    f"The download from {download.url} kept failing ({exc}); {kept} "
                    "run the same command again.",
                    failures,
                ) from exc
            retry_after = exc.retry_after if isinstance(exc, _RetryableStatus) else None
            policy.pause(policy.delay(failures, retry_after), None)
