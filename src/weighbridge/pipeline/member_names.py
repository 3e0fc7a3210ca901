"""What an archive member's name may be, and the path it becomes in the model folder.

Owns the naming rules every archive shares (tar, zip, a bare file's name). Invariants
of a path returned by `safe_relative_path`:
- relative and normalised: no `..` that climbs out, no leading `/`, drive letter or
  backslash (which some other tool reading the files could honour);
- valid UTF-8 without control characters;
- at most `MAX_PATH_DEPTH` levels, `MAX_PATH_BYTES` bytes and `MAX_NAME_BYTES` per
  level: well under the OS's PATH_MAX (4096 bytes including the staging prefix), so
  every accepted name can be created here and unpacked anywhere else. Model
  repositories nest a few levels and use short names.
A refused name is UNSAFE_ARCHIVE, like every other property of the archive that makes
it unsafe to unpack: these are not server limits an operator could raise.
"""

from __future__ import annotations

import posixpath
import unicodedata
from pathlib import PurePosixPath

from weighbridge.errors import ErrorCode, PipelineError

MAX_PATH_BYTES = 1024
MAX_PATH_DEPTH = 64
MAX_NAME_BYTES = 255


def quoted(member: str) -> str:
    """`repr(member)`, its middle cut out when long: a refused name may be megabytes."""
    text = repr(member)
    return text if len(text) <= 300 else f"{text[:150]}…{text[-150:]}"


def unsafe_member(member: str, problem: str) -> PipelineError:
    return PipelineError(
        ErrorCode.UNSAFE_ARCHIVE,
        f"Archive member {quoted(member)} {problem}; the archive was refused and nothing from it "
        "was kept — re-create the archive from a plain folder of regular files.",
    )


def safe_relative_path(name: str) -> PurePosixPath | None:
    """Turn an archive member name into a safe relative path; None for the root itself.

    `a/./b` and `a/../b` normalise to `a/b` and `b`; anything that still climbs out
    (`../x`), starts at a root (`/x`, `C:x`, `\\\\server\\x`) or hides a separator
    (backslash) is refused, because some other tool reading these files could honour it.
    """
    if not name:
        raise unsafe_member(name, "has an empty name")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise unsafe_member(name, "has a name that is not valid UTF-8") from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise unsafe_member(name, "has control characters in its name")
    if "\\" in name:
        raise unsafe_member(
            name, "contains a backslash, which Windows treats as a folder separator"
        )
    if name.startswith("/"):
        raise unsafe_member(name, "has an absolute path")
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        raise unsafe_member(name, "starts with a drive letter")
    if len(encoded) > MAX_PATH_BYTES:
        raise unsafe_member(name, f"has a path longer than {MAX_PATH_BYTES} bytes")
    normal = posixpath.normpath(name)
    if normal == ".":
        return None
    parts = normal.split("/")
    if parts[0] == "..":
        raise unsafe_member(name, "points outside the archive's folder ('..')")
    if len(parts) > MAX_PATH_DEPTH:
        raise unsafe_member(
            name, f"is nested {len(parts)} levels deep, more than the {MAX_PATH_DEPTH} allowed"
        )
    for part in parts:
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise unsafe_member(name, f"has a path component longer than {MAX_NAME_BYTES} bytes")
    return PurePosixPath(normal)


def folded(rel: PurePosixPath) -> str:
    """`rel` compared at least as loosely as case-insensitive file systems do (APFS, NTFS)."""
    return unicodedata.normalize("NFC", rel.as_posix()).casefold()
