"""A file served over HTTP the way weighbridge serves an export: Content-Length, ETag,
`Range: bytes=N-` answered 206 with Content-Range, `If-Range` honoured (a stale validator
gets the whole body, 200) — and connections that fail mid-body on request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

PIECE = 64 * 1024


class _Body(httpx.SyncByteStream):
    """`data` in pieces; then, if `fail` is set, the connection 'drops' (ReadError)."""

    def __init__(self, data: bytes, fail: bool) -> None:
        self.data = data
        self.fail = fail

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), PIECE):
            yield self.data[start : start + PIECE]
        if self.fail:
            raise httpx.ReadError("connection reset by peer")


@dataclass
class Sent:
    """One request as the server saw it, and how many body bytes it got out."""

    headers: httpx.Headers
    url: httpx.URL
    status: int = 0
    body_bytes: int = 0


@dataclass
class FakeDownload:
    body: bytes
    path: str = "/api/public/exports/ds-1/download"
    etag_override: str | None = None
    # Per request, in order: cut the body after this many bytes (None: send it whole).
    drops: list[int | None] = field(default_factory=list)
    # Per request, in order: end the body cleanly after this many bytes (a short body).
    shorts: list[int | None] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # error statuses to answer first
    status_json: Any = field(default_factory=dict)  # the body of those error answers
    statuses_after: int = 0  # requests answered normally before the error statuses start
    honour_ranges: bool = True
    ignore_if_range: bool = False  # a broken server: ranges of whatever it has now
    requests: list[Sent] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return self.etag_override or '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        sent = Sent(request.headers, request.url)
        self.requests.append(sent)
        if request.url.path != self.path:
            sent.status = 404
            return httpx.Response(404, json={"errors": [{"code": "NOT_FOUND", "msg": "no"}]})
        if self.statuses and len(self.requests) > self.statuses_after:
            sent.status = self.statuses.pop(0)
            return httpx.Response(sent.status, headers={"Retry-After": "1"}, json=self.status_json)
        size = len(self.body)
        start = 0
        wanted = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        fresh = if_range is None or if_range == self.etag or self.ignore_if_range
        if self.honour_ranges and wanted and fresh:
            start = int(wanted.removeprefix("bytes=").removesuffix("-"))
        headers = {"ETag": self.etag, "Accept-Ranges": "bytes", "Content-Length": str(size - start)}
        sent.status = 200
        if start:
            sent.status = 206
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        data = self.body[start:]
        drop = self.drops.pop(0) if self.drops else None
        short = self.shorts.pop(0) if self.shorts else None
        if drop is not None:
            data = data[:drop]
        elif short is not None:
            data = data[:short]
        sent.body_bytes = len(data)
        return httpx.Response(sent.status, headers=headers, stream=_Body(data, drop is not None))
