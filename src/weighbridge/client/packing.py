"""What gets uploaded: a file as it is, or a folder as a virtual, uncompressed tar.

A `ByteSource` has a size, a file name and extension for the session, and serves any
byte range as an iterator of pieces of at most `PIECE_SIZE` bytes, read from disk on
demand; nothing is ever held whole in memory, and a retried chunk re-reads its range.

`FolderTar` never writes a tar to disk. It lays the archive out once in memory with
`weighbridge.tar_layout` (the same layout the server streams exports with) and maps
byte ranges onto headers in memory and data read from the folder's files:

    <folder>/                 directory header
    <folder>/a.json           header | data from a.json | zero padding
    <folder>/sub/             directory header
    <folder>/sub/b.bin        header | data from b.bin  | zero padding
    end of archive            two zero blocks | padding to the record size

Invariants: the bytes equal what `tarfile` (PAX format) writes for the same members;
members are sorted and carry fixed mtime/uid/gid/mode, so the same folder always gives
the same bytes and sha256. A symbolic link to a regular file is followed and stored as a
regular file with the link's name and the target's bytes (a Hugging Face cache snapshot
is made of nothing else); links to folders (which may loop), dangling links and special
files are refused, and so is a folder without a single regular file.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from weighbridge.client.errors import LocalInputError
from weighbridge.tar_layout import TarLayout, TarMember

PIECE_SIZE = 1024 * 1024
ADAPTER_CONFIG = "adapter_config.json"

# Longest suffix first, so "x.tar.gz" is not taken for a ".gz" file.
_EXTENSIONS = ("tar.gz", "tgz", "tar", "zip", "safetensors", "gguf")


class ByteSource(Protocol):
    """Something to upload: its size, names for the session, and its bytes by range."""

    @property
    def size(self) -> int: ...

    @property
    def file_name(self) -> str: ...

    @property
    def file_extension(self) -> str: ...

    def iter_range(self, offset: int, length: int) -> Iterator[bytes]: ...

    def looks_like_adapter(self) -> bool: ...


def open_source(path: str | os.PathLike[str]) -> ByteSource:
    """The right `ByteSource` for a model folder, an archive or a weights file."""
    p = Path(path)
    if p.is_dir():
        return FolderTar(p)
    if not p.exists():
        raise LocalInputError(f"{p} does not exist.", "NOT_FOUND")
    if not p.is_file():
        raise LocalInputError(f"{p} is neither a regular file nor a folder.")
    return FileSource(p)


def file_extension(name: str) -> str | None:
    lower = name.lower()
    for ext in _EXTENSIONS:
        if lower.endswith("." + ext):
            return ext
    return None


def _read_exact(path: Path, expected_size: int, offset: int, length: int) -> Iterator[bytes]:
    """`length` bytes of `path` from `offset`, in pieces; fails if the file changed size."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size != expected_size:
            raise LocalInputError(
                f"{path} changed size while being uploaded; start the import again.",
                "FILE_CHANGED",
            )
        fh.seek(offset)
        remaining = length
        while remaining > 0:
            piece = fh.read(min(PIECE_SIZE, remaining))
            if not piece:
                raise LocalInputError(
                    f"{path} got shorter while being uploaded; start the import again.",
                    "FILE_CHANGED",
                )
            remaining -= len(piece)
            yield piece


def _check_range(offset: int, length: int, size: int) -> None:
    if offset < 0 or length < 0 or offset + length > size:
        raise ValueError(f"range {offset}+{length} outside 0..{size}")


class FileSource:
    """One archive or weights file, uploaded byte for byte."""

    def __init__(self, path: Path) -> None:
        ext = file_extension(path.name)
        if ext is None:
            raise LocalInputError(
                f"{path.name} is not a model folder, archive (.tar, .tar.gz, .tgz, .zip) "
                "or weights file (.safetensors, .gguf).",
                "UNSUPPORTED_FORMAT",
            )
        self.path = path.resolve()
        self._size = self.path.stat().st_size
        if self._size == 0:
            raise LocalInputError(f"{path} is empty.")
        self._name = path.name
        self._ext = ext

    @property
    def size(self) -> int:
        return self._size

    @property
    def file_name(self) -> str:
        return self._name

    @property
    def file_extension(self) -> str:
        return self._ext

    def iter_range(self, offset: int, length: int) -> Iterator[bytes]:
        _check_range(offset, length, self._size)
        return _read_exact(self.path, self._size, offset, length)

    def looks_like_adapter(self) -> bool:
        """True when the archive holds adapter_config.json; cheap checks only.

        A gzip tar would have to be decompressed whole to list it, so it is never
        guessed to be an adapter; pass `is_adapter=True` for those.
        """
        try:
            if self._ext == "zip":
                with zipfile.ZipFile(self.path) as zf:
                    names = zf.namelist()
            elif self._ext == "tar":
                with tarfile.open(self.path, "r:") as tf:
                    names = tf.getnames()
            else:
                return False
        except (OSError, tarfile.TarError, zipfile.BadZipFile):
            return False  # the server will say what is wrong with it
        return any(n.rstrip("/").rsplit("/", 1)[-1] == ADAPTER_CONFIG for n in names)


@dataclass(frozen=True)
class _LocalFile:
    path: Path
    size: int


def _read_local(source: _LocalFile, offset: int, length: int) -> Iterator[bytes]:
    return _read_exact(source.path, source.size, offset, length)


def _walk(folder: Path, prefix: str) -> Iterator[tuple[str, Path | None, int]]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise LocalInputError(f"Cannot read folder {folder}: {exc.strerror}.") from exc
    for entry in entries:
        arcname = f"{prefix}/{entry.name}"
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            st = _link_target(entry)
        if stat.S_ISDIR(st.st_mode):
            yield arcname, None, 0
            yield from _walk(Path(entry.path), arcname)
        elif stat.S_ISREG(st.st_mode):
            yield arcname, Path(entry.path), st.st_size
        else:
            raise LocalInputError(
                f"{entry.path} is not a regular file or folder (a device, fifo or socket); "
                "remove it from the model folder."
            )


def _link_target(entry: os.DirEntry[str]) -> os.stat_result:
    """The stat of the regular file a symbolic link points to; other links are refused."""
    try:
        st = os.stat(entry.path)  # follows the whole chain of links
    except OSError as exc:
        try:
            target = repr(os.readlink(entry.path))
        except OSError:
            target = "a target"
        raise LocalInputError(
            f"{entry.path} is a symbolic link to {target}, which does not exist or "
            f"cannot be read ({exc.strerror}); fix or remove the link.",
            "SYMLINK_REFUSED",
        ) from exc
    if stat.S_ISDIR(st.st_mode):
        raise LocalInputError(
            f"{entry.path} is a symbolic link to a folder; links to folders are not "
            "followed (they can loop). Copy the folder with links resolved (cp -rL) and "
            "import the copy.",
            "SYMLINK_REFUSED",
        )
    if not stat.S_ISREG(st.st_mode):
        raise LocalInputError(
            f"{entry.path} is a symbolic link to something that is not a regular file; "
            "remove it from the model folder.",
            "SYMLINK_REFUSED",
        )
    return st


class FolderTar:
    """A folder served as the bytes of `<folder name>.tar`, computed on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        top = self.root.name or "model"
        self._name = f"{top}.tar"
        members = [
            TarMember(arcname, size, None if path is None else _LocalFile(path, size))
            for arcname, path, size in self._members(top)
        ]
        if not any(m.source is not None for m in members):
            raise LocalInputError(
                f"{self.root} holds no files; a model folder needs at least its weights.",
                "EMPTY_FOLDER",
            )
        self._files = [m.name for m in members if m.source is not None and m.size > 0]
        self._layout = TarLayout(members)
        self._size = self._layout.size

    def _members(self, top: str) -> Iterator[tuple[str, Path | None, int]]:
        """(name in the tar, source file or None for a folder, size), sorted, depth first."""
        yield top, None, 0
        yield from _walk(self.root, top)

    @property
    def size(self) -> int:
        return self._size

    @property
    def file_name(self) -> str:
        return self._name

    @property
    def file_extension(self) -> str:
        return "tar"

    @property
    def member_files(self) -> list[str]:
        """Names (inside the tar) of the non-empty files whose bytes are read from disk."""
        return list(self._files)

    def looks_like_adapter(self) -> bool:
        return (self.root / ADAPTER_CONFIG).is_file()

    def iter_range(self, offset: int, length: int) -> Iterator[bytes]:
        _check_range(offset, length, self._size)
        return self._layout.iter_range(offset, length, _read_local)
