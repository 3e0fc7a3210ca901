"""Safe unpacking of tar (plain, gzip, bzip2, xz) streams and spooled zip files.

Owns the decision of which archive members become files, and the limits. Invariants:
- only regular files and folders are accepted; symbolic and hard links, devices, fifos,
  sparse and unknown member types are refused (UNSAFE_ARCHIVE) naming the member, before
  any of its bytes are written;
- every name passes `staging.safe_relative_path` and every file is written by
  `ModelTree`, in pieces of at most `COPY_PIECE_BYTES`, never with `extractall`;
- member count, total unpacked bytes and the unpacked/compressed ratio are checked
  before and while writing (declared sizes are not trusted), so a bomb stops within one
  piece of crossing a limit (LIMIT_EXCEEDED);
- a truncated, garbled or trailing-garbage archive is CORRUPT_ARCHIVE, never a silently
  shorter model: tarfile treats a bad header after the first member as a normal end, so
  the way the archive ended is recorded and checked here.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol, cast

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.hashing import HashingReader
from weighbridge.pipeline.result import UnpackLimits
from weighbridge.pipeline.staging import ModelTree, safe_relative_path

COPY_PIECE_BYTES = 1024 * 1024
# tarfile's read-ahead in stream mode; larger means fewer calls, but it re-slices its
# buffer on every small header read, so keep it moderate.
TAR_STREAM_BUFFER_BYTES = 128 * 1024
# Below this much compressed input the ratio is not judged: tar headers and small JSON
# files compress far better than 200:1 and are harmless.
RATIO_GRACE_BYTES = 1024 * 1024

_EOF_HEADER_ERROR: type[Exception] = getattr(tarfile, "EOFHeaderError")
# Errors that mean "these bytes are not a valid archive", as opposed to disk errors.
_CORRUPT_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    gzip.BadGzipFile,
)

# Disk and source errors arrive as PipelineError (translated where they enter), so an
# OSError while reading comes from a decompressor: bz2 and gzip use it for bad data.
_TAR_READ_ERRORS: tuple[type[BaseException], ...] = (*_CORRUPT_ERRORS, OSError)
# zipfile also raises ValueError/RuntimeError for malformed entries.
_ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (*_CORRUPT_ERRORS, OSError, ValueError, RuntimeError)


def _corrupt(file_name: str, problem: str) -> PipelineError:
    return PipelineError(
        ErrorCode.CORRUPT_ARCHIVE,
        f"{file_name}: {problem}; the archive is truncated or damaged — re-create it and "
        "upload it again.",
    )


class UnpackBudget:
    """Running totals checked against the limits as members are written."""

    def __init__(self, limits: UnpackLimits, file_name: str, compressed: Callable[[], int]) -> None:
        self.limits = limits
        self.file_name = file_name
        self._compressed = compressed
        self.members = 0
        self.unpacked_bytes = 0

    def count_member(self, member: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{self.file_name}: has more than the limit of {self.limits.max_members} "
                f"members (stopped at {member!r}); pack fewer files or ask the operator to raise "
                "the member limit.",
            )

    def add_bytes(self, nbytes: int, member: str) -> None:
        self.unpacked_bytes += nbytes
        if self.unpacked_bytes > self.limits.max_unpacked_bytes:
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{self.file_name}: unpacks to more than the limit of "
                f"{self.limits.max_unpacked_bytes} bytes (reached while writing {member!r}); ask the operator to raise the "
                "unpacked size limit or split the model.",
            )
        compressed = max(self._compressed(), RATIO_GRACE_BYTES)
        if self.unpacked_bytes > self.limits.max_compression_ratio * compressed:
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{self.file_name}: unpacks to more than {self.limits.max_compression_ratio:g} "
                f"times its compressed size (reached while writing {member!r}); this looks "
                "like a decompression bomb — model weights do not compress that well.",
            )


def _refuse_type(member: str, kind: str) -> PipelineError:
    return PipelineError(
        ErrorCode.UNSAFE_ARCHIVE,
        f"Archive member {member!r} is a {kind}; only regular files and folders are "
        "accepted — replace it with the real file and re-create the archive.",
    )


def _tar_kind(info: tarfile.TarInfo) -> str | None:
    """What is wrong with a member's type, or None for a regular file or folder."""
    if info.issym():
        return "symbolic link"
    if info.islnk():
        return "hard link"
    if info.ischr() or info.isblk():
        return "device file"
    if info.isfifo():
        return "fifo"
    if info.issparse():
        return "sparse file (re-create the archive without --sparse)"
    if info.isreg() or info.isdir():
        return None
    return f"member of unsupported type {info.type!r}"


def _decompressed(reader: HashingReader, file_name: str) -> IO[bytes]:
    """Wrap the raw upload in the decompressor its magic bytes call for (or none).

    Decompressing here rather than in tarfile's own stream mode lets gzip verify its
    CRC and lets us see what follows the end of the tar.
    """
    raw = cast(IO[bytes], reader)  # a RawIOBase is a binary file; typeshed wants IO
    head = reader.peek_prefix(6)
    if head.startswith(b"\x1f\x8b"):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    return raw


def unpack_tar(reader: HashingReader, tree: ModelTree, limits: UnpackLimits, file_name: str) -> None:
    """Stream a tar from `reader` into `tree`, refusing anything unsafe."""
    budget = UnpackBudget(limits, file_name, lambda: reader.bytes_read)
    ending: list[BaseException] = []

    class RecordingTarInfo(tarfile.TarInfo):
        # tarfile swallows a bad header after the first member and just stops; remember
        # why it stopped so a garbled or truncated archive is not mistaken for a short one.
        @classmethod
        def fromtarfile(cls, archive: tarfile.TarFile) -> RecordingTarInfo:
            try:
                return super().fromtarfile(archive)
            except tarfile.HeaderError as exc:
                ending.append(exc)
                raise

    stream = _decompressed(reader, file_name)
    last = "the start of the archive"
    try:
        with tarfile.open(
            fileobj=stream, mode="r|", bufsize=TAR_STREAM_BUFFER_BYTES, tarinfo=RecordingTarInfo
        ) as archive:
            for info in archive:
                last = info.name
                _unpack_tar_member(archive, info, tree, budget)
            if not ending or not isinstance(ending[-1], _EOF_HEADER_ERROR):
                why = str(ending[-1]) if ending else "no end-of-archive marker"
                raise _corrupt(file_name, f"the tar stream breaks off after {last!r} ({why})")
            # Read on through tarfile's own stream: it has already buffered what follows.
            assert archive.fileobj is not None
            _expect_only_zeros(archive.fileobj, file_name)
    except _TAR_READ_ERRORS as exc:
        raise _corrupt(file_name, f"cannot be read after {last!r} ({exc})") from exc


def _unpack_tar_member(
    archive: tarfile.TarFile, info: tarfile.TarInfo, tree: ModelTree, budget: UnpackBudget
) -> None:
    budget.count_member(info.name)
    kind = _tar_kind(info)
    if kind is not None:
        raise _refuse_type(info.name, kind)
    rel = safe_relative_path(info.name)
    if rel is None:
        return
    if info.isdir():
        tree.add_dir(rel, info.name)
        return
    if budget.unpacked_bytes + info.size > budget.limits.max_unpacked_bytes:
        budget.add_bytes(info.size, info.name)  # raises with the standard message
    source = archive.extractfile(info)
    if source is None:  # only for non-regular members, which were refused above
        raise _refuse_type(info.name, "member without data")
    with source, tree.open_file(rel, info.name) as out:
        while piece := source.read(COPY_PIECE_BYTES):
            budget.add_bytes(len(piece), info.name)
            out.write(piece)
        sha = out.commit()
    assert sha is not None
    tree.record(rel, out.size, sha)


class _Reads(Protocol):
    def read(self, size: int, /) -> bytes: ...


def _expect_only_zeros(stream: _Reads, file_name: str) -> None:
    """Read to the end of the (decompressed) stream; only zero padding may follow."""
    while piece := stream.read(COPY_PIECE_BYTES):
        if piece.count(0) != len(piece):
            raise _corrupt(
                file_name,
                "has data after the end-of-archive marker (two archives joined?)",
            )


def _zip_kind(info: zipfile.ZipInfo) -> str | None:
    """What is wrong with a zip member's type (from its Unix mode bits), or None."""
    mode = info.external_attr >> 16
    if info.create_system != 3 or mode == 0:  # not made on Unix: no file types recorded
        return None
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return None


def _check_zip_directory(
    infos: list[zipfile.ZipInfo], budget: UnpackBudget, archive_bytes: int
) -> None:
    """Refuse what the central directory already shows, before writing anything."""
    limits, file_name = budget.limits, budget.file_name
    if len(infos) > limits.max_members:
        raise PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{file_name}: has {len(infos)} members, more than the limit of "
            f"{limits.max_members} members; pack fewer files or ask the operator to raise the limit.",
        )
    declared = 0
    for info in infos:
        kind = _zip_kind(info)
        if kind is not None:
            raise _refuse_type(info.filename, kind)
        safe_relative_path(info.filename)
        if info.flag_bits & 0x1:
            raise PipelineError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{file_name}: member {info.filename!r} is encrypted; upload an "
                "unencrypted archive.",
            )
        declared += info.file_size
        if info.file_size > limits.max_compression_ratio * max(info.compress_size, RATIO_GRACE_BYTES):
            raise PipelineError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{file_name}: member {info.filename!r} claims {info.file_size} bytes from "
                f"{info.compress_size} compressed, more than {limits.max_compression_ratio:g} "
                "times; this looks like a decompression bomb.",
            )
    if declared > limits.max_unpacked_bytes:
        raise PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{file_name}: unpacks to {declared} bytes, more than the limit of "
            f"{limits.max_unpacked_bytes} bytes; ask the operator to raise the limit or split the model.",
        )
    if declared > limits.max_compression_ratio * max(archive_bytes, RATIO_GRACE_BYTES):
        raise PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{file_name}: unpacks to {declared} bytes from {archive_bytes}, more than "
            f"{limits.max_compression_ratio:g} times; this looks like a decompression bomb.",
        )
    # Overlapping members (several names sharing one compressed stream) are the trick
    # behind non-recursive zip bombs; a real archive stores each member once.
    ordered = sorted(infos, key=lambda item: item.header_offset)
    for before, after in zip(ordered, ordered[1:]):
        if before.header_offset + before.compress_size > after.header_offset:
            raise PipelineError(
                ErrorCode.UNSAFE_ARCHIVE,
                f"Archive member {after.filename!r} overlaps {before.filename!r} in "
                f"{file_name}; overlapping members are a zip-bomb technique — re-create the "
                "archive with a standard tool.",
            )


def unpack_zip(
    zip_path: Path,
    tree: ModelTree,
    limits: UnpackLimits,
    file_name: str,
    on_bytes: Callable[[int], None],
) -> None:
    """Extract a spooled zip member by member into `tree`, refusing anything unsafe.

    `on_bytes` is told of unpacked bytes as they are written (for progress).
    """
    archive_bytes = zip_path.stat().st_size
    budget = UnpackBudget(limits, file_name, lambda: archive_bytes)
    member = "the central directory"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
            _check_zip_directory(infos, budget, archive_bytes)
            for info in infos:
                member = info.filename
                budget.count_member(member)
                rel = safe_relative_path(member)
                if rel is None:
                    continue
                if info.is_dir():
                    tree.add_dir(rel, member)
                    continue
                with archive.open(info) as source, tree.open_file(rel, member) as out:
                    while piece := source.read(COPY_PIECE_BYTES):
                        budget.add_bytes(len(piece), member)
                        out.write(piece)
                        on_bytes(len(piece))
                    sha = out.commit()
                assert sha is not None
                tree.record(rel, out.size, sha)
    except NotImplementedError as exc:
        raise PipelineError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{file_name}: member {member!r} uses a compression method this server cannot "
            f"read ({exc}); re-create the zip with deflate or no compression.",
        ) from exc
    except _ZIP_READ_ERRORS as exc:
        raise _corrupt(file_name, f"cannot be read at {member!r} ({exc})") from exc
