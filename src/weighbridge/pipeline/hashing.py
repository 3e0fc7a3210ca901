"""The single read of an upload: a file-like object over an iterator of byte pieces.

`HashingReader` owns the one pass over the uploaded bytes that the import pipeline is
allowed. Invariants:
- every byte the source yields is fed to one sha256 and counted exactly once, in order,
  whether a consumer reads it or `drain()` discards it, so `sha256_hex()` is the digest
  of the whole upload once `exhausted` is true;
- at most one source piece (≤ 8 MiB by contract) is held at a time;
- the count never silently runs past `expected_total`: the piece that would overflow it
  raises SIZE_MISMATCH at once, so a runaway source cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator

from weighbridge.errors import ErrorCode, PipelineError

# Pieces handed to consumers that ask for "everything" (read(-1)) are capped so a
# careless caller still never holds more than this at once.
MAX_READ_ALL_BYTES = 8 * 1024 * 1024


class HashingReader(io.RawIOBase):
    """Read-only, non-seekable stream over `source` that hashes and counts as it goes."""

    def __init__(
        self,
        source: Iterable[bytes],
        expected_total: int,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self._pieces: Iterator[bytes] = iter(source)
        self._expected_total = expected_total
        self._on_read = on_read
        self._hash = hashlib.sha256()
        self._piece = memoryview(b"")
        self._pos = 0
        self.bytes_read = 0
        self._source_done = False

    @property
    def exhausted(self) -> bool:
        """True once the source has ended and every byte was consumed or drained."""
        return self._source_done and self._pos >= len(self._piece)

    def readable(self) -> bool:
        return True

    def _next_piece(self) -> bool:
        """Load the next non-empty piece; False at the end of the source."""
        try:
            return self._load(self._pieces)
        except OSError as exc:
            # The source reads stored chunks: a failure there is the server's, not the
            # upload's, and must not be reported as a damaged archive.
            raise PipelineError(
                ErrorCode.INTERNAL,
                f"The stored upload could not be read ({exc.strerror or exc}); retry the import.",
            ) from exc

    def _load(self, pieces: Iterator[bytes]) -> bool:
        for piece in pieces:
            if not piece:
                continue
            if self.bytes_read + len(piece) > self._expected_total:
                raise PipelineError(
                    ErrorCode.SIZE_MISMATCH,
                    f"The upload is longer than its declared size of {self._expected_total} "
                    "bytes; the stored chunks do not match the session — upload the file "
                    "again.",
                )
            self._hash.update(piece)
            self.bytes_read += len(piece)
            self._piece = memoryview(piece)
            self._pos = 0
            if self._on_read is not None:
                self._on_read(len(piece))
            return True
        self._source_done = True
        self._piece = memoryview(b"")
        self._pos = 0
        return False

    def _available(self) -> int:
        left = len(self._piece) - self._pos
        if left == 0 and not self._source_done and self._next_piece():
            left = len(self._piece)
        return left

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        out = memoryview(buffer).cast("B")
        left = self._available()
        n = min(left, len(out))
        out[:n] = self._piece[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Return up to `size` bytes (fewer only at a piece boundary or the end)."""
        if size is None or size < 0:
            size = MAX_READ_ALL_BYTES
        left = self._available()
        n = min(left, size)
        data = bytes(self._piece[self._pos : self._pos + n])
        self._pos += n
        return data

    def peek_prefix(self, size: int) -> bytes:
        """Return up to `size` upcoming bytes without consuming them (for magic numbers).

        Pieces may be as small as one byte, so this joins pieces until it has `size`
        bytes; `size` is small, so the joined piece stays about one piece long.
        """
        held = bytes(self._piece[self._pos :])
        while len(held) < size and self._next_piece():
            held += bytes(self._piece)
        self._piece = memoryview(held)
        self._pos = 0
        return held[:size]

    def iter_pieces(self) -> Iterator[memoryview]:
        """Yield the rest of the stream piece by piece, without copying."""
        while self._available():
            piece = self._piece[self._pos :]
            self._pos = len(self._piece)
            yield piece

    def drain(self) -> None:
        """Consume (and so hash and count) everything the consumer did not read."""
        for _ in self.iter_pieces():
            pass

    def sha256_hex(self) -> str:
        return self._hash.hexdigest()


def verify_upload(reader: HashingReader, expected_total: int, expected_sha256: str | None) -> None:
    """Check the fully read upload against its declared size and optional checksum.

    The size is checked first: a short upload also has a wrong digest, but "N bytes
    missing" tells the person what actually went wrong.
    """
    if not reader.exhausted:
        raise RuntimeError("verify_upload called before the upload was fully read")
    if reader.bytes_read != expected_total:
        raise PipelineError(
            ErrorCode.SIZE_MISMATCH,
            f"The upload has {reader.bytes_read} bytes but its declared size is "
            f"{expected_total} bytes; the stored chunks are incomplete — upload the file "
            "again.",
        )
    if expected_sha256 is not None:
        actual = reader.sha256_hex()
        if actual != expected_sha256.strip().lower():
            raise PipelineError(
                ErrorCode.CHECKSUM_MISMATCH,
                f"The upload's sha256 is {actual} but the session declared "
                f"{expected_sha256.strip().lower()}; the file changed or was corrupted in "
                "transit — check the local file and upload it again.",
            )
