"""Builders for tar and zip archives, including hostile ones (made in code, never checked in).

A member is described by `Member`; the archive writers put exactly what is described
into the archive, however unsafe — that is the point.
"""

from __future__ import annotations

import io
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

PIECE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    kind: str = "file"  # file | dir | symlink | hardlink | chardev | blockdev | fifo
    target: str = ""  # for links


def members(files: Mapping[str, bytes], top: str | None = None) -> list[Member]:
    """Regular-file members for `files`, optionally inside a top-level folder."""
    out = [Member(f"{top}/", kind="dir")] if top else []
    out += [Member(f"{top}/{name}" if top else name, data) for name, data in files.items()]
    return out


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chardev": tarfile.CHRTYPE,
    "blockdev": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def tar_bytes(items: Iterable[Member], compression: str = "") -> bytes:
    """A tar ("", "gz", "bz2" or "xz") holding exactly `items`, in order."""
    buffer = io.BytesIO()
    mode = f"w:{compression}" if compression else "w"
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        for item in items:
            info = tarfile.TarInfo(item.name)
            info.type = _TAR_TYPES[item.kind]
            info.linkname = item.target
            info.mode = 0o755 if item.kind == "dir" else 0o644
            if item.kind == "file":
                info.size = len(item.data)
                archive.addfile(info, io.BytesIO(item.data))
            else:
                archive.addfile(info)
    return buffer.getvalue()


def write_tar_of_dir(source: Path, out: Path, top: str | None, compression: str = "") -> None:
    """Tar a real folder (streamed from disk) with its contents under `top`."""
    mode = f"w:{compression}" if compression else "w"
    # Fastest compression: these archives exist to be read, and tests should be quick.
    options = {"compresslevel": 1} if compression in ("gz", "bz2") else {}
    with tarfile.open(out, mode, **options) as archive:  # type: ignore[call-overload]
        archive.add(source, arcname=top or ".", recursive=True)


def gzip_bomb_tar(unpacked_bytes: int) -> bytes:
    """A tar.gz whose one member is `unpacked_bytes` of zeros (ratio ≈ 1000:1)."""
    return tar_bytes([Member("zeros.safetensors", bytes(unpacked_bytes))], "gz")


_ZIP_MODES = {
    "file": stat.S_IFREG | 0o644,
    "dir": stat.S_IFDIR | 0o755,
    "symlink": stat.S_IFLNK | 0o777,
    "chardev": stat.S_IFCHR | 0o644,
    "blockdev": stat.S_IFBLK | 0o644,
    "fifo": stat.S_IFIFO | 0o644,
}


def zip_bytes(items: Iterable[Member], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip holding exactly `items` (duplicates and links included), in order."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names; we want them
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for item in items:
                info = zipfile.ZipInfo(item.name)
                info.create_system = 3
                info.external_attr = _ZIP_MODES[item.kind] << 16
                info.compress_type = compression
                data = item.target.encode() if item.kind == "symlink" else item.data
                archive.writestr(info, data)
    return buffer.getvalue()


def write_zip_of_dir(source: Path, out: Path, top: str | None) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source).as_posix()
            archive.write(path, f"{top}/{rel}" if top else rel)


def pieces(data: bytes, size: int = PIECE_BYTES) -> Iterator[bytes]:
    """`data` as an upload source: consecutive pieces of at most `size` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def file_pieces(path: Path, size: int = PIECE_BYTES) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(size):
            yield piece


def tar_with_pax_header(items: Iterable[Member], pax_value_bytes: int) -> bytes:
    """A tar whose last member carries a pax header of about `pax_value_bytes` bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for item in items:
            info = tarfile.TarInfo(item.name)
            info.size = len(item.data)
            archive.addfile(info, io.BytesIO(item.data))
        info = tarfile.TarInfo("annotated.txt")
        info.pax_headers = {"comment": "x" * pax_value_bytes}
        archive.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()
