"""HTTP Range requests (RFC 9110 §14) for downloads: one range per request.

A client resuming a download sends `Range: bytes=N-` and `If-Range: <etag>`; if the
ETag no longer matches, the whole body is sent instead (200), so a resumed file is never
stitched together from two different versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import StreamingResponse

from weighbridge.errors import ErrorCode, WeighbridgeError

# 19 digits cover every file size; longer numbers are not a range anyone means.
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int
    partial: bool


def requested_range(request: Request, size: int, etag: str) -> ByteRange:
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if not header or (if_range is not None and if_range.strip() != etag):
        return ByteRange(0, size, False)
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        # Multiple or malformed ranges: RFC 9110 lets a server ignore Range.
        return ByteRange(0, size, False)
    first, last = match.groups()
    if first == "":
        start = max(0, size - int(last))
        end = size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise WeighbridgeError(ErrorCode.RANGE_NOT_SATISFIABLE, f"The range {header!r} is "
                               f"outside the {size} bytes of this download.", size=size)
    return ByteRange(start, end - start + 1, True)


def content_disposition(file_name: str) -> str:
    """`attachment` with the name as plain ASCII and, exactly, as UTF-8 (RFC 6266/8187):
    header values are Latin-1 on the wire, and a name may hold any character."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def ranged_response(body: Iterator[bytes], rng: ByteRange, size: int, etag: str,
                    file_name: str, media_type: str) -> StreamingResponse:
    headers = {"Content-Length": str(rng.length), "Accept-Ranges": "bytes", "ETag": etag,
               "Content-Disposition": content_disposition(file_name)}
    if rng.partial:
        headers["Content-Range"] = f"bytes {rng.start}-{rng.start + rng.length - 1}/{size}"
    return StreamingResponse(body, status_code=206 if rng.partial else 200, headers=headers,
                             media_type=media_type)
