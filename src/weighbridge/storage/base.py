"""The BlobStore protocol: the only way the rest of weighbridge reads or writes stored bytes.

Keys are "/"-separated strings made by `layout.py`. Writers are atomic: nothing is
visible under a key until `commit()`, and `cancel()` (or leaving the `with` block on an
exception) leaves nothing behind. Every implementation passes the same contract tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

READ_PIECE_BYTES = 4 * 1024 * 1024


class BlobWriter(Protocol):
    @property
    def bytes_written(self) -> int: ...

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    def commit(self) -> None:
        """Make the bytes durable and visible under the key, replacing any earlier blob."""

    def cancel(self) -> None:
        """Discard what was written; safe to call more than once and after commit."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class BlobStore(Protocol):
    def writer(self, key: str) -> BlobWriter: ...

    def iter_bytes(self, key: str, piece_bytes: int = READ_PIECE_BYTES) -> Iterator[bytes]: ...

    def iter_range(self, key: str, offset: int, length: int,
                   piece_bytes: int = READ_PIECE_BYTES) -> Iterator[bytes]:
        """`length` bytes from `offset`; raises if the blob is shorter."""

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove one blob; a missing key is not an error."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob whose key starts with `prefix/`."""

    def list_prefix(self, prefix: str) -> list[str]: ...

    def put_file(self, local_path: Path, key: str) -> None:
        """Move a finished local file to `key`, replacing what was there.

        `local_path` is consumed: the local store renames it, others upload then delete it.
        """
