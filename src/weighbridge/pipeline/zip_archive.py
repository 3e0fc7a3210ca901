"""Safe extraction of a spooled zip file, member by member.

A zip keeps its directory at the end, so it cannot be streamed: the upload is spooled
to scratch first (see run.py), then extracted here. Invariants, beyond the rules every
archive shares (`archive`):
- the entry count is read from the end-of-central-directory record before zipfile
  builds its member list, so a zip declaring millions of entries is refused without
  loading them;
- the whole central directory is judged before a byte is written: names, Unix file
  types, encryption, declared sizes and ratios, and overlapping members (the trick
  behind non-recursive zip bombs);
- declared sizes are not trusted while writing: the budget counts real bytes, and
  zipfile's CRC and length checks turn a lying entry into CORRUPT_ARCHIVE.
"""

from __future__ import annotations

import itertools
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.archive import (
    COPY_PIECE_BYTES,
    CORRUPT_ERRORS,
    corrupt,
    is_platform_metadata,
    refuse_type,
)
from weighbridge.pipeline.member_names import safe_relative_path
from weighbridge.pipeline.result import UnpackLimits
from weighbridge.pipeline.staging import ModelTree
from weighbridge.pipeline.unpack_budget import RATIO_GRACE_BYTES, UnpackBudget, UnpackReport

# zipfile also raises ValueError/RuntimeError for malformed entries.
_ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    *CORRUPT_ERRORS,
    OSError,
    ValueError,
    RuntimeError,
)
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_EOCD_SEARCH_BYTES = 65_535 + 22  # the record plus the longest possible comment


def declared_entries(path: Path) -> int | None:
    """The entry count in the end-of-central-directory record (zip64 aware), if found."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        tail_start = max(0, size - _EOCD_SEARCH_BYTES)
        handle.seek(tail_start)
        tail = handle.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            return None  # zipfile will report the damage
        (entries,) = struct.unpack_from("<H", tail, at + 10)
        locator = at - 20
        if entries != 0xFFFF or locator < 0 or tail[locator : locator + 4] != _ZIP64_LOCATOR:
            return int(entries)
        (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        handle.seek(record_offset)
        record = handle.read(40)
    if len(record) < 40 or record[:4] != _ZIP64_EOCD:
        return None
    (entries64,) = struct.unpack_from("<Q", record, 32)
    return int(entries64)


def _looks_like_tar(path: Path) -> bool:
    """Gzip/bzip2/xz magic, or the ustar magic at offset 257 of a plain tar."""
    with path.open("rb") as handle:
        head = handle.read(263)
    return head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar"


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


def _too_many(file_name: str, count: int, limit: int) -> PipelineError:
    return PipelineError(
        ErrorCode.LIMIT_EXCEEDED,
        f"{file_name}: has {count} members, more than the limit of {limit} members; pack "
        "fewer files or ask the operator to raise the limit.",
    )


def _check_directory(infos: list[zipfile.ZipInfo], budget: UnpackBudget, archive_bytes: int) -> int:
    """Refuse what the central directory already shows; return the declared total size."""
    limits, file_name = budget.limits, budget.file_name
    if len(infos) > limits.max_members:
        raise _too_many(file_name, len(infos), limits.max_members)
    declared = 0
    for info in infos:
        kind = _zip_kind(info)
        if kind is not None:
            raise refuse_type(info.filename, kind)
        safe_relative_path(info.filename)
        if info.flag_bits & 0x1:
            raise PipelineError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{file_name}: member {info.filename!r} is encrypted; upload an "
                "unencrypted archive.",
            )
        declared += info.file_size
        if info.file_size > limits.max_compression_ratio * max(
            info.compress_size, RATIO_GRACE_BYTES
        ):
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
            f"{limits.max_unpacked_bytes} bytes; ask the operator to raise the limit or "
            "split the model.",
        )
    if declared > limits.max_compression_ratio * max(archive_bytes, RATIO_GRACE_BYTES):
        raise PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{file_name}: unpacks to {declared} bytes from {archive_bytes}, more than "
            f"{limits.max_compression_ratio:g} times; this looks like a decompression bomb.",
        )
    # Several names sharing one compressed stream: a real archive stores each member once.
    ordered = sorted(infos, key=lambda item: item.header_offset)
    for before, after in itertools.pairwise(ordered):
        if before.header_offset + before.compress_size > after.header_offset:
            raise PipelineError(
                ErrorCode.UNSAFE_ARCHIVE,
                f"Archive member {after.filename!r} overlaps {before.filename!r} in "
                f"{file_name}; overlapping members are a zip-bomb technique — re-create the "
                "archive with a standard tool.",
            )
    return declared


def unpack_zip(
    zip_path: Path,
    tree: ModelTree,
    limits: UnpackLimits,
    file_name: str,
    on_total: Callable[[int], None],
    on_bytes: Callable[[int], None],
) -> UnpackReport:
    """Extract a spooled zip member by member into `tree`, refusing anything unsafe.

    `on_total` is told the declared unpacked size once the directory is checked, and
    `on_bytes` each piece written (for progress).
    """
    archive_bytes = zip_path.stat().st_size
    budget = UnpackBudget(limits, file_name, lambda: archive_bytes)
    report = UnpackReport()
    entries = declared_entries(zip_path)
    if entries is not None and entries > limits.max_members:
        raise _too_many(file_name, entries, limits.max_members)
    member = "the central directory"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
            on_total(_check_directory(infos, budget, archive_bytes))
            for info in infos:
                member = info.filename
                budget.count_member(member)
                rel = safe_relative_path(member)
                if rel is None:
                    continue
                if is_platform_metadata(rel):
                    if not info.is_dir():
                        report.skipped.append(member)
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
        if member == "the central directory" and _looks_like_tar(zip_path):
            raise PipelineError(
                ErrorCode.CORRUPT_ARCHIVE,
                f"{file_name} is a tar file, not a zip; start the import again with "
                "fileExtension tar (or tar.gz).",
            ) from exc
        raise corrupt(file_name, f"cannot be read at {member!r} ({exc})") from exc
    return report
