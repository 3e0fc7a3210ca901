"""The export flow: the server's tar of a model, downloaded and checked before it is kept.

`export_to` takes the export job's final dock status (its `response` names `downloadUrl`,
`fileName`, `sizeBytes` and maybe `sha256`), downloads the tar through
`download.download_file` (resumable, into `<output>.part`, renamed into place only when
whole) and, before that rename, checks it against the model record in one streaming pass:
under its one top-level folder the tar holds exactly the record's files, each with the
recorded size and sha256 (and the whole file has the announced sha256, when there is one).
A tar that fails the check is deleted, never kept: a wrong export is worse than none.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from weighbridge.client.download import PIECE_SIZE, ProgressCallback, download_file
from weighbridge.client.errors import ApiError, DownloadError, LocalInputError
from weighbridge.client.resume import DownloadStore, state_key
from weighbridge.client.transport import Transport

FileHashes = dict[str, tuple[int, str]]


@dataclass(frozen=True)
class ExportOutcome:
    """What `export_model` did: where the tar is and how much of it an earlier run got."""

    model_id: str
    dock_status_id: str
    path: Path
    size_bytes: int
    resumed_bytes: int
    verified_files: int
    dock_status: dict[str, Any]


def export_to(
    transport: Transport,
    store: DownloadStore,
    final: dict[str, Any],
    model_id: str,
    output: Path,
    *,
    record: Mapping[str, Any] | None,
    resume: bool,
    progress: ProgressCallback | None,
    verify_progress: ProgressCallback | None,
    overwrite: bool = False,
) -> ExportOutcome:
    """Download the export that `final` (a SUCCESS dock status) describes to `output`.

    `output` may be an existing folder: the server's file name is used inside it.
    `record` is the model record to check the tar's files against (None: no check).
    An existing file at the target is replaced only with `overwrite`.
    """
    answer = final.get("response")
    url = answer.get("downloadUrl") if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or not isinstance(url, str) or not url:
        raise ApiError(200, "BAD_RESPONSE", "The export finished without a downloadUrl.", final)
    size = answer.get("sizeBytes")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    sha256 = answer.get("sha256") if isinstance(answer.get("sha256"), str) else None
    if output.is_dir():
        output = output / _file_name(answer.get("fileName"), model_id)
        check_output(output, overwrite=overwrite)
    expected = _record_files(record) if record is not None else None
    checked: list[int] = []

    def check(part: Path) -> None:
        checked.append(check_tar(part, expected, sha256, verify_progress))

    target = str(output.resolve())
    key = state_key(kind="export", host=transport.base_url, model=model_id, target=target)
    result = download_file(
        transport,
        url,
        output,
        store=store,
        key=key,
        expected_size=size,
        resume=resume,
        progress=progress,
        check=check if expected is not None or sha256 else None,
    )
    return ExportOutcome(
        model_id=model_id,
        dock_status_id=str(final.get("_id") or final.get("dockStatusId") or ""),
        path=result.path,
        size_bytes=result.size,
        resumed_bytes=result.resumed_bytes,
        verified_files=checked[0] if checked else 0,
        dock_status=final,
    )


def check_output(output: Path, *, overwrite: bool = False) -> None:
    """Refuse an output that cannot be written before the server does any work for it.

    An existing file there is refused unless `overwrite` (its `.part` is no such file:
    that is a download to resume).
    """
    if not overwrite and os.path.lexists(output) and not output.is_dir():
        raise LocalInputError(
            f"{output} already exists; choose another output, or ask to overwrite it.",
            "OUTPUT_EXISTS",
        )
    folder = output if output.is_dir() else output.parent
    if not folder.is_dir():
        raise LocalInputError(f"The folder {folder} does not exist; create it first.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LocalInputError(f"The folder {folder} is not writable.", "WRITE_FAILED")


def _file_name(name: Any, model_id: str) -> str:
    """The server's file name, if it is a plain one; never a path that leaves the folder."""
    plain = isinstance(name, str) and name not in ("", ".", "..")
    if plain and not any(c in name for c in "/\\\0"):
        return str(name)
    return f"{model_id}.tar"


def _record_files(record: Mapping[str, Any]) -> FileHashes | None:
    """path → (size, sha256) of the record's files; None if the record does not say."""
    files = record.get("files")
    if not isinstance(files, list) or not files:
        return None
    found: FileHashes = {}
    for entry in files:
        if not isinstance(entry, Mapping):
            return None
        path, size, sha256 = entry.get("path"), entry.get("size"), entry.get("sha256")
        if not isinstance(path, str) or not isinstance(size, int) or not isinstance(sha256, str):
            return None
        found[path] = (size, sha256.lower())
    return found


class _HashingReader:
    """A read-only file that hashes everything read through it and reports progress."""

    def __init__(self, raw: BinaryIO, total: int, progress: ProgressCallback | None) -> None:
        self.raw = raw
        self.total = total
        self.done = 0
        self.digest = hashlib.sha256()
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.done += len(data)
        if self.progress is not None and data:
            self.progress(self.done, self.total)
        return data

    def drain(self) -> None:
        while self.read(PIECE_SIZE):
            pass


def check_tar(
    path: Path,
    expected: FileHashes | None,
    sha256: str | None,
    progress: ProgressCallback | None = None,
) -> int:
    """Check an exported tar in one pass; return how many files were compared.

    Raises `DownloadError` when the tar is unreadable, its files differ from `expected`
    (path → size, sha256, relative to the one top-level folder) or the whole file's
    sha256 is not `sha256`.
    """
    found: FileHashes = {}
    with open(path, "rb") as raw:
        reader = _HashingReader(raw, path.stat().st_size, progress)
        try:
            # "r|": one forward pass, as the bytes lie, so the whole-file hash comes free.
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    if member.isdir():
                        continue
                    if not member.isreg():
                        raise DownloadError(
                            "EXPORT_MISMATCH", f"The export holds {member.name}, not a file."
                        )
                    data = tar.extractfile(member)
                    digest = hashlib.sha256()
                    if data is not None:
                        while piece := data.read(PIECE_SIZE):
                            digest.update(piece)
                    found[member.name] = (member.size, digest.hexdigest())
        except tarfile.TarError as exc:
            raise DownloadError(
                "EXPORT_CORRUPT", f"The downloaded export is not a readable tar: {exc}."
            ) from exc
        reader.drain()  # the end-of-archive blocks belong to the whole-file hash too
    if sha256 is not None and reader.digest.hexdigest() != sha256.lower():
        raise DownloadError(
            "CHECKSUM_MISMATCH",
            f"The downloaded export's sha256 is {reader.digest.hexdigest()}, "
            f"but the server announced {sha256}.",
        )
    if expected is None:
        return 0
    _compare(_strip_top_folder(found), expected)
    return len(expected)


def _strip_top_folder(found: FileHashes) -> FileHashes:
    tops = {name.split("/", 1)[0] for name in found}
    if len(tops) == 1 and all("/" in name for name in found):
        return {name.split("/", 1)[1]: value for name, value in found.items()}
    return found


def _compare(found: FileHashes, expected: FileHashes) -> None:
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    differ = sorted(p for p in set(found) & set(expected) if found[p] != expected[p])
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:3])}")
    if extra:
        problems.append(f"unexpected {', '.join(extra[:3])}")
    if differ:
        problems.append(f"different size or sha256: {', '.join(differ[:3])}")
    if problems:
        raise DownloadError(
            "EXPORT_MISMATCH",
            "The downloaded export does not match the model record ("
            + "; ".join(problems)
            + "); it was deleted. Export again, and tell the server's operator if it recurs.",
        )
