"""Reading a chunk upload's body as a stream, in either accepted form.

- Fast form: `application/octet-stream`, the body is the chunk, `?chunkNumber=N`.
- GALE form: `multipart/form-data` with a file part `file` and a field `chunkNumber`
  (plus optional session fields). The multipart stream is parsed incrementally and only
  the file part's bytes are passed on; Starlette's `request.form()` is not used because
  it spools file parts to a temporary file, writing every byte twice.

Fields may come before or after the file part, so `meta()` is asked again once the body
has been read (see services/chunk_intake.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from weighbridge.errors import ErrorCode, WeighbridgeError
from weighbridge.services.chunk_intake import ChunkMeta

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
CHUNK_SHA256_HEADER = "x-chunk-sha256"
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_BOUNDARY_BYTES = 200  # RFC 2046 allows 70; python-multipart refuses over 256


def parse_chunk_number(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise WeighbridgeError(ErrorCode.INVALID_CHUNK_NUMBER, f"chunkNumber {text[:40]!r} is not "
                               "a whole number; send 0 for the first chunk.", field="chunkNumber")
    return int(text)


def _bad_form(msg: str) -> WeighbridgeError:
    return WeighbridgeError(ErrorCode.INVALID_FIELD, msg, field="file")


class ChunkBody:
    """A chunk upload request, whichever form it uses."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._content_type, params = parse_options_header(request.headers.get("content-type"))
        self._boundary = params.get(b"boundary")
        self._fields: dict[str, str] = {}
        self._sha256 = request.headers.get(CHUNK_SHA256_HEADER)
        if self._sha256 is not None and not SHA256_HEX.match(self._sha256.strip()):
            # Refused before the body is read: a malformed digest can never match.
            raise WeighbridgeError(ErrorCode.INVALID_FIELD, "X-Chunk-Sha256 must be the chunk's "
                                   "sha256 as 64 hex digits.", field="X-Chunk-Sha256")
        ctype = self._content_type.lower()
        if ctype == b"multipart/form-data":
            self.is_multipart = True
            if not self._boundary or len(self._boundary) > MAX_BOUNDARY_BYTES:
                raise _bad_form("The multipart Content-Type needs a boundary of 1 to "
                                f"{MAX_BOUNDARY_BYTES} characters.")
            if "chunkNumber" in request.query_params:
                raise WeighbridgeError(ErrorCode.INVALID_CHUNK_NUMBER, "Send chunkNumber once: "
                                       "as a form field with multipart/form-data, or in the "
                                       "query with application/octet-stream.",
                                       field="chunkNumber")
        elif ctype in (b"application/octet-stream", b""):
            self.is_multipart = False
        else:
            raise WeighbridgeError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send a chunk as "
                                   "multipart/form-data (fields file and chunkNumber) or as "
                                   "application/octet-stream with ?chunkNumber=N.")

    def meta(self) -> ChunkMeta:
        if self.is_multipart:
            number = parse_chunk_number(self._fields.get("chunkNumber"))
            fields = {k: v for k, v in self._fields.items() if k != "chunkNumber"}
            return ChunkMeta(number, self._sha256, fields)
        return ChunkMeta(parse_chunk_number(self._request.query_params.get("chunkNumber")),
                         self._sha256, {})

    def file_bytes(self) -> AsyncIterator[bytes | memoryview]:
        if self.is_multipart:
            return self._multipart_file_bytes()
        return self._request.stream()

    async def _multipart_file_bytes(self) -> AsyncIterator[bytes | memoryview]:
        out: list[bytes | memoryview] = []
        part: dict[str, object] = {}
        headers: dict[bytes, bytes] = {}
        header_name = bytearray()
        header_value = bytearray()
        seen_file = ended = False

        def on_part_begin() -> None:
            part.clear()
            headers.clear()

        def on_header_field(data: bytes, start: int, end: int) -> None:
            header_name.extend(data[start:end])

        def on_header_value(data: bytes, start: int, end: int) -> None:
            header_value.extend(data[start:end])

        def on_header_end() -> None:
            headers[bytes(header_name).lower()] = bytes(header_value)
            header_name.clear()
            header_value.clear()

        def on_headers_finished() -> None:
            nonlocal seen_file
            _, options = parse_options_header(headers.get(b"content-disposition", b""))
            name = options.get(b"name", b"").decode("utf-8", "replace")
            if name == FILE_FIELD:
                if seen_file:
                    raise _bad_form("The multipart body has more than one 'file' part.")
                seen_file = True
                part["file"] = True
            else:
                if len(self._fields) >= MAX_FIELDS:
                    raise _bad_form("The multipart body has too many fields.")
                if name in self._fields:
                    raise _bad_form(f"The multipart field {name[:64]!r} appears twice; send "
                                    "each field once.")
                part["name"] = name
                part["data"] = bytearray()

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if part.get("file"):
                # Most of a piece is file data: pass it on without copying (the parser hands
                # out the immutable bytes it was given, or its own boundary constant).
                if start == 0 and end == len(data):
                    out.append(data)
                elif isinstance(data, bytes):
                    out.append(memoryview(data)[start:end])
                else:
                    out.append(bytes(data[start:end]))
                return
            buf = part["data"]
            assert isinstance(buf, bytearray)
            if len(buf) + end - start > MAX_FIELD_BYTES:
                raise _bad_form(f"The multipart field {part['name']!r} is too long.")
            buf.extend(data[start:end])

        def on_part_end() -> None:
            if not part.get("file"):
                buf = part["data"]
                assert isinstance(buf, bytearray)
                self._fields[str(part["name"])] = buf.decode("utf-8", "replace")

        def on_end() -> None:
            nonlocal ended
            ended = True

        try:
            parser = MultipartParser(self._boundary or b"", {
                "on_part_begin": on_part_begin, "on_part_data": on_part_data,
                "on_part_end": on_part_end, "on_header_field": on_header_field,
                "on_header_value": on_header_value, "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished, "on_end": on_end,
            })
            async for data in self._request.stream():
                parser.write(data)
                if out:
                    for piece in out:
                        yield piece
                    out.clear()
            parser.finalize()
        except FormParserError as exc:
            raise _bad_form("The multipart body is malformed; send fields 'file' and "
                            "'chunkNumber' as multipart/form-data.") from exc
        if not ended:
            # Without its closing boundary the body may have been cut short: the last
            # bytes of the file part cannot be trusted to be the whole chunk.
            raise _bad_form("The multipart body ends without its closing boundary; it was "
                            "cut short. Send the chunk again.")
        for piece in out:
            yield piece
        if not seen_file:
            raise _bad_form("The multipart body has no 'file' part; send the chunk's bytes in "
                            "a field named 'file'.")
