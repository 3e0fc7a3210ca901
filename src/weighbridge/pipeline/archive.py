"""Safe unpacking of tar streams (plain, gzip, bzip2, xz) and the rules every archive shares.

Owns the decision of which archive members become files, and the limits (zip's
specifics live in `zip_archive`). Invariants:
- only regular files and folders are accepted; symbolic and hard links, devices, fifos,
  sparse and unknown member types are refused (UNSAFE_ARCHIVE) naming the member, before
  any of its bytes are written;
- every name passes `member_names.safe_relative_path` and every file is written by
  `ModelTree`, in pieces of at most `COPY_PIECE_BYTES`, never with `extractall`;
- member count, total unpacked bytes and the unpacked/compressed ratio are checked
  (`unpack_budget`) before and while writing (declared sizes are not trusted), so a bomb stops within one
  piece of crossing a limit (LIMIT_EXCEEDED); tar's own metadata records (pax headers,
  GNU long names), which tarfile reads whole into memory, are capped too;
- a truncated, garbled or trailing-garbage archive is CORRUPT_ARCHIVE, never a silently
  shorter model: tarfile treats a bad header after the first member as a normal end, so
  the way the archive ended is recorded and checked here;
- macOS metadata (`__MACOSX/`, `._*`, `.DS_Store`) is checked like any member but not
  kept, so a Finder-made archive still has a single top-level folder.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO, Protocol, cast

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.hashing import HashingReader
from weighbridge.pipeline.member_names import safe_relative_path
from weighbridge.pipeline.result import UnpackLimits
from weighbridge.pipeline.staging import ModelTree
from weighbridge.pipeline.unpack_budget import UnpackBudget, UnpackReport

COPY_PIECE_BYTES = 1024 * 1024
# tarfile's read-ahead in stream mode; larger means fewer calls, but it re-slices its
# buffer on every small header read, so keep it moderate.
TAR_STREAM_BUFFER_BYTES = 128 * 1024
# tarfile reads a pax header or GNU long name whole into memory; real ones are tiny.
MAX_TAR_METADATA_BYTES = 1024 * 1024
_TAR_METADATA_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)

# Not in typeshed, hence getattr: the "zero block" end marker that means a clean end.
_EOF_HEADER_ERROR: type[Exception] = getattr(tarfile, "EOFHeaderError")  # noqa: B009
# Errors that mean "these bytes are not a valid archive", as opposed to disk errors.
CORRUPT_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    gzip.BadGzipFile,
)

# Disk and source errors arrive as PipelineError (translated where they enter), so an
# OSError while reading comes from a decompressor: bz2 and gzip use it for bad data.
_TAR_READ_ERRORS: tuple[type[BaseException], ...] = (*CORRUPT_ERRORS, OSError)


def is_platform_metadata(rel: PurePosixPath) -> bool:
    """macOS archive litter: resource forks and Finder files, never model content."""
    return rel.parts[0] == "__MACOSX" or rel.name.startswith("._") or rel.name == ".DS_Store"


def corrupt(file_name: str, problem: str) -> PipelineError:
    return PipelineError(
        ErrorCode.CORRUPT_ARCHIVE,
        f"{file_name}: {problem}; the archive is truncated or damaged — re-create it and "
        "upload it again.",
    )


def refuse_type(member: str, kind: str) -> PipelineError:
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


def unpack_tar(
    reader: HashingReader, tree: ModelTree, limits: UnpackLimits, file_name: str
) -> UnpackReport:
    """Stream a tar from `reader` into `tree`, refusing anything unsafe."""
    budget = UnpackBudget(limits, file_name, lambda: reader.bytes_read)
    report = UnpackReport()
    ending: list[BaseException] = []
    last: str | None = None  # the last member read, for saying where a problem is

    class RecordingTarInfo(tarfile.TarInfo):
        # This is TarInfo.fromtarfile (three lines) with two additions: tarfile swallows
        # a bad header after the first member and just stops, so remember why it stopped
        # (a garbled or truncated archive must not pass as a short one); and refuse a
        # huge pax/long-name record before tarfile reads it whole into memory.
        @classmethod
        def fromtarfile(cls, archive: tarfile.TarFile) -> RecordingTarInfo:
            stream = cast(IO[bytes], archive.fileobj)
            try:
                obj = cls.frombuf(
                    stream.read(tarfile.BLOCKSIZE), archive.encoding or "utf-8", archive.errors
                )
            except tarfile.HeaderError as exc:
                ending.append(exc)
                raise
            if obj.type in _TAR_METADATA_TYPES and obj.size > MAX_TAR_METADATA_BYTES:
                raise PipelineError(
                    ErrorCode.UNSAFE_ARCHIVE,
                    f"{file_name}: a tar metadata record (pax header or long name) of "
                    f"{obj.size} bytes {_where(last)}; more than "
                    f"{MAX_TAR_METADATA_BYTES} bytes is not a real archive — re-create it "
                    "with a standard tar tool.",
                )
            obj.offset = stream.tell() - tarfile.BLOCKSIZE
            # tarfile's own processing of the record (untyped, hence getattr).
            process = cast(
                Callable[[tarfile.TarFile], RecordingTarInfo],
                getattr(obj, "_proc_member"),  # noqa: B009
            )
            return process(archive)

    head = reader.peek_prefix(4)
    stream = _decompressed(reader, file_name)
    try:
        with tarfile.open(
            fileobj=stream, mode="r|", bufsize=TAR_STREAM_BUFFER_BYTES, tarinfo=RecordingTarInfo
        ) as archive:
            for info in archive:
                last = info.name
                _unpack_tar_member(archive, info, tree, budget, report)
            if not ending or not isinstance(ending[-1], _EOF_HEADER_ERROR):
                why = str(ending[-1]) if ending else "no end-of-archive marker"
                raise corrupt(file_name, f"the tar stream breaks off {_where(last)} ({why})")
            # Read on through tarfile's own stream: it has already buffered what follows.
            assert archive.fileobj is not None
            _expect_only_zeros(archive.fileobj, file_name)
    except _TAR_READ_ERRORS as exc:
        if head == b"PK\x03\x04" and not report.skipped and not tree.files:
            raise PipelineError(
                ErrorCode.CORRUPT_ARCHIVE,
                f"{file_name} is a zip file, not a tar; start the import again with "
                "fileExtension zip.",
            ) from exc
        if isinstance(exc, gzip.BadGzipFile) and str(exc).startswith("Not a gzipped file"):
            # The first gzip header was recognised by its magic bytes, so this is what
            # follows the end of the compressed data (gzip reads it as a next member).
            raise PipelineError(
                ErrorCode.CORRUPT_ARCHIVE,
                f"{file_name}: has bytes after the end of its gzip data that are not gzip; "
                "something was appended to the file after it was made — upload the archive "
                "exactly as tar wrote it.",
            ) from exc
        raise corrupt(file_name, f"cannot be read {_where(last)} ({exc})") from exc
    return report


def _where(last: str | None) -> str:
    """Where in the tar a problem lies, as precisely as the stream lets us say."""
    return "before its first member" if last is None else f"after member {last!r}"


def _unpack_tar_member(
    archive: tarfile.TarFile,
    info: tarfile.TarInfo,
    tree: ModelTree,
    budget: UnpackBudget,
    report: UnpackReport,
) -> None:
    budget.count_member(info.name)
    kind = _tar_kind(info)
    if kind is not None:
        raise refuse_type(info.name, kind)
    rel = safe_relative_path(info.name)
    if rel is None:
        return
    if is_platform_metadata(rel):
        if not info.isdir():
            report.skipped.append(info.name)
        return
    if info.isdir():
        tree.add_dir(rel, info.name)
        return
    if budget.unpacked_bytes + info.size > budget.limits.max_unpacked_bytes:
        budget.add_bytes(info.size, info.name)  # raises with the standard message
    source = archive.extractfile(info)
    if source is None:  # only for non-regular members, which were refused above
        raise refuse_type(info.name, "member without data")
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
            raise corrupt(
                file_name,
                "has data after the end-of-archive marker (two archives joined?)",
            )
