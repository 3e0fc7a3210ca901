"""The staging directory: where a run may write, and how each file gets there.

Layout owned by one run (the caller creates `staging_dir` empty and removes it on
failure; on success it renames `model/` into place)::

    staging_dir/
      model/        the model's files, exactly what `ImportResult.files` lists
      scratch/      files being written (temp names), the spooled zip; gone on return

Invariants:
- every path written under `model/` comes from `member_names.safe_relative_path`, so
  it is relative, normalised, short and free of `..`, drive letters, backslashes and
  control characters;
- a member name is used once: a second file with the same normalised path, or a file
  where a folder is needed (or the reverse), is refused rather than overwritten; so is
  a name that differs from another only by letter case or Unicode form, since the two
  collide once the model is unpacked on a case-insensitive file system;
- an OS error about a name (too long, invalid for the file system) is UNSAFE_ARCHIVE
  naming the member, a full disk OUT_OF_STORAGE, any other disk error INTERNAL with
  its reason: every OSError leaves as a PipelineError;
- a file appears under `model/` only complete: it is written under `scratch/`, fsynced
  and `os.replace`d into place, so a crash never leaves a half file that looks whole;
- nothing creates symbolic links, so the resolved parent of any destination stays
  inside `model/` (checked anyway, cheaply, before each file is placed).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Self

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.member_names import folded, unsafe_member
from weighbridge.pipeline.result import FileEntry
from weighbridge.pipeline.write_behind import WriteBehind

WRITE_BEHIND_AFTER_BYTES = 8 * 1024 * 1024
# What the OS says about a name it cannot create: the member's fault, not the server's.
_NAME_ERRNOS = frozenset(
    {errno.ENAMETOOLONG, errno.EILSEQ, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP}
)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class AtomicFileWriter:
    """Write one file under a temp name, hashing it; `commit` moves it into place.

    Used as a context manager: leaving the block without `commit` (an error) deletes
    the temp file, so a failed member leaves nothing behind.
    """

    def __init__(
        self,
        temp_path: Path,
        final_path: Path,
        compute_sha256: bool = True,
        durable: bool = True,
        label: str | None = None,
    ) -> None:
        self._temp = temp_path
        self._final = final_path
        self._label = label or final_path.name  # how errors name the file
        self._hash = hashlib.sha256() if compute_sha256 else None
        self._durable = durable
        try:
            # Held open across write() calls and closed by commit/__exit__.
            self._file = open(temp_path, "xb")  # noqa: SIM115
        except OSError as exc:
            raise storage_error(exc, self._label) from exc
        self._behind: WriteBehind | None = None
        self.size = 0
        self.committed = False

    def write(self, data: bytes | memoryview) -> None:
        # Small files are written directly; a large one gets a writer thread, so the disk
        # write overlaps reading and hashing the next piece.
        if self._behind is None and self.size >= WRITE_BEHIND_AFTER_BYTES:
            self._behind = WriteBehind(self._file)
        try:
            (self._behind or self._file).write(data)
        except OSError as exc:
            raise storage_error(exc, self._label) from exc
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)

    def _stop_writing(self) -> None:
        behind, self._behind = self._behind, None
        if behind is not None:
            behind.close()

    def commit(self) -> str | None:
        """Flush, fsync and rename into place; return the sha256 hex (if computed)."""
        try:
            self._stop_writing()
            self._file.flush()
            if self._durable:
                os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temp, self._final)
        except OSError as exc:
            raise storage_error(exc, self._label) from exc
        self.committed = True
        return None if self._hash is None else self._hash.hexdigest()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            try:
                self._stop_writing()
            except OSError:
                pass  # the write error that matters was raised already, or is moot now
            self._file.close()
            self._temp.unlink(missing_ok=True)


def storage_error(exc: OSError, what: str) -> PipelineError:
    """Translate a disk error while writing `what` into a pipeline error, keeping why."""
    if exc.errno in _FULL_ERRNOS:
        return PipelineError(
            ErrorCode.OUT_OF_STORAGE,
            f"The server ran out of disk space while writing {what!r}; free space or "
            "raise the storage quota, then retry the import.",
        )
    if exc.errno in _NAME_ERRNOS:
        return unsafe_member(
            what, f"cannot be created on the server's file system ({exc.strerror or exc})"
        )
    return PipelineError(
        ErrorCode.INTERNAL,
        f"The server could not write {what!r} ({exc.strerror or exc}); retry the import.",
    )


class ModelTree:
    """The files and folders of one model being assembled under `staging_dir/model`."""

    def __init__(self, staging_dir: Path) -> None:
        self.staging_dir = staging_dir
        self.model_dir = staging_dir / "model"
        self.scratch_dir = staging_dir / "scratch"
        try:
            self.model_dir.mkdir()
            self.scratch_dir.mkdir()
        except OSError as exc:
            raise storage_error(exc, staging_dir.name) from exc
        self._model_root = self.model_dir.resolve()
        self._files: dict[PurePosixPath, FileEntry] = {}
        self._dirs: set[PurePosixPath] = set()
        self._by_folded: dict[str, PurePosixPath] = {}  # every file and folder, see _claim

    @property
    def files(self) -> list[FileEntry]:
        return sorted(self._files.values(), key=lambda entry: entry.path)

    def scratch_path(self, hint: str) -> Path:
        return self.scratch_dir / f"{uuid.uuid4().hex}.{hint}"

    def open_scratch(self, path: Path) -> AtomicFileWriter:
        """A writer for a scratch file (no hash, no fsync: it never outlives the run)."""
        return AtomicFileWriter(
            self.scratch_path("part"), path, compute_sha256=False, durable=False
        )

    def _check_lexically_inside(self, rel: PurePosixPath, member: str) -> None:
        # Defence in depth: `safe_relative_path` already guarantees this, but a path
        # that did not come through it must not reach mkdir or open.
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise unsafe_member(member, "resolves outside the model folder")

    def _claim(self, rel: PurePosixPath, member: str) -> None:
        """Refuse a name that differs only by case (or Unicode form) from one in use.

        Exported and unpacked on macOS or Windows, `Model.safetensors` and
        `model.safetensors` would be one file, one silently replacing the other.
        """
        held = self._by_folded.setdefault(folded(rel), rel)
        if held != rel:
            raise unsafe_member(
                member,
                f"differs from {str(held)!r} only by letter case; the two would be one file "
                "on case-insensitive file systems (macOS, Windows)",
            )

    def add_dir(self, rel: PurePosixPath, member: str) -> None:
        """Record (and create) a folder and its parents, refusing file/folder clashes."""
        self._check_lexically_inside(rel, member)
        for folder in [*reversed(rel.parents[:-1]), rel]:
            if folder in self._dirs:
                continue
            if folder in self._files:
                raise unsafe_member(
                    member, f"needs {str(folder)!r} to be a folder, but it is a file"
                )
            self._claim(folder, member)
            # One level at a time, parents first: pathlib's mkdir(parents=True) recurses
            # once per missing parent, which a hostile depth turns into RecursionError.
            try:
                (self.model_dir / folder).mkdir(exist_ok=True)
            except OSError as exc:
                raise storage_error(exc, member) from exc
            self._dirs.add(folder)

    def open_file(
        self, rel: PurePosixPath, member: str, compute_sha256: bool = True
    ) -> AtomicFileWriter:
        """Check that `rel` is new and placeable, then return a writer for it."""
        self._check_lexically_inside(rel, member)
        if rel in self._files:
            raise unsafe_member(member, "appears twice in the archive (duplicate name)")
        if rel in self._dirs:
            raise unsafe_member(member, "is a file, but another member uses that name as a folder")
        if rel.parent != PurePosixPath("."):
            self.add_dir(rel.parent, member)
        self._claim(rel, member)
        final = self.model_dir / rel
        # We never create links, so this holds; checked anyway because a wrong resolved
        # parent must never be written to.
        if not final.parent.resolve().is_relative_to(self._model_root):
            raise unsafe_member(member, "resolves outside the model folder")
        if os.path.lexists(final):
            raise unsafe_member(member, "would overwrite a file that is already there")
        return AtomicFileWriter(self.scratch_path("part"), final, compute_sha256, label=member)

    def record(self, rel: PurePosixPath, size: int, sha256: str) -> None:
        self._files[rel] = FileEntry(path=rel.as_posix(), size=size, sha256=sha256)

    def strip_single_top_folder(self) -> str | None:
        """If everything sits in one top-level folder, make that folder the model root.

        Returns the stripped folder's name. Done with two renames inside staging_dir,
        so no file data is copied.
        """
        tops = {rel.parts[0] for rel in (*self._files, *self._dirs)}
        if len(tops) != 1:
            return None
        top = PurePosixPath(next(iter(tops)))
        if top in self._files:
            return None
        holder = self.scratch_dir / f"{uuid.uuid4().hex}.unwrap"
        try:
            os.rename(self.model_dir, holder)
            os.rename(holder / top.as_posix(), self.model_dir)
            holder.rmdir()
        except OSError as exc:
            raise storage_error(exc, top.as_posix()) from exc
        self._files = {
            rel.relative_to(top): FileEntry(
                path=rel.relative_to(top).as_posix(), size=entry.size, sha256=entry.sha256
            )
            for rel, entry in self._files.items()
        }
        self._dirs = {rel.relative_to(top) for rel in self._dirs if rel != top}
        self._by_folded = {folded(rel): rel for rel in (*self._files, *self._dirs)}
        return top.as_posix()

    def remove_scratch(self) -> None:
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
