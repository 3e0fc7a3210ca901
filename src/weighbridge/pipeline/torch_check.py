"""Checking PyTorch checkpoints without torch and without unpickling them.

Owns the file formats `torch.save` writes (what the tensors in them mean is
`torch_tensors`'s):

    zip format (torch ≥ 1.6)              legacy format (a stream of pickles)
    <archive>/data.pkl    the object      pickle: magic number 0x1950a86a20f9469cfc6c
    <archive>/data/<key>  one per storage pickle: protocol version 1001
    <archive>/version, byteorder, …       pickle: sys info
                                          pickle: the object
                                          pickle: the storage keys
                                          per key: 8-byte LE element count, raw bytes

Any other pickle file (a `.pkl`, a protocol-0 `.bin`) is read as pickles back to back up
to its end. Every pickle in any of them passes `pickle_scan`, with one allow-list for
every pickle file in an upload, weights or not: a training_args.bin that names
transformers.training_args.TrainingArguments is UNSAFE_PICKLE just like os.system,
because any loader that opens the folder may unpickle it; the message says to remove
the file or convert it.

Invariants (else INVALID_MODEL naming the file and the member or storage):
- zip: exactly one <archive>/data.pkl, no bytes after any member's pickle; data/<key> exists for each storage and holds exactly numel × element size bytes;
  TorchScript archives (code/, constants.pkl) are UNSUPPORTED_FORMAT;
- legacy: the key list names exactly the storages used, each record's element count is
  the storage's numel, and nothing follows the last record.
Limits (LIMIT_EXCEEDED): zip entries, and pickle members that inflate by more than
MAX_PICKLE_RATIO (torch.save stores them uncompressed).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.pickle_scan import Container, PickleScan, scan_pickle
from weighbridge.pipeline.pickle_stream import BoundedReader
from weighbridge.pipeline.torch_tensors import TorchSummary, account, invalid
from weighbridge.pipeline.zip_archive import declared_entries

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_ZIP_ENTRIES = 1_000_000  # one per storage, plus a few
MAX_PICKLE_RATIO = 100

OnBytes = Callable[[int], None] | None


def has_pickle_suffix(rel: str) -> bool:
    return PurePosixPath(rel).suffix.lower() in PICKLE_SUFFIXES


def _scan_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, on_bytes: OnBytes
) -> PickleScan:
    where = f"{name} (member {info.filename})"
    if info.file_size > MAX_PICKLE_RATIO * info.compress_size + (1 << 20):
        # torch stores members uncompressed; a deflated pickle that inflates this much is
        # a decompression bomb aimed at the scanner.
        raise PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{where} inflates {info.compress_size} bytes to {info.file_size}; torch.save "
            "does not compress, so this is not a checkpoint — remove the file.",
        )
    with archive.open(info) as raw:
        reader = BoundedReader(raw, info.file_size, where, on_bytes)  # type: ignore[arg-type]
        scan = scan_pickle(reader)
        if reader.position != info.file_size:
            raise invalid(where, f"has {info.file_size - reader.position} bytes after its pickle")
    return scan


def _check_zip(path: Path, name: str, on_bytes: OnBytes, sniff: bool) -> TorchSummary | None:
    entries = declared_entries(path)  # before zipfile builds one object per entry
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise PipelineError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{name} declares {entries} zip entries, more than the {MAX_ZIP_ENTRIES} a "
            "checkpoint may have; remove the file or convert it to safetensors.",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if len(infos) != len(archive.infolist()):
                raise invalid(name, "has duplicate member names")
            pickles = sorted(n for n in infos if n.endswith(".pkl"))
            if sniff and not pickles:
                return None  # a zip, but no pickle in it: data, not a checkpoint
            scans = [_scan_member(archive, infos[n], name, on_bytes) for n in pickles]
            tops = [n for n in pickles if n.count("/") == 1 and n.endswith("/data.pkl")]
            if len(tops) != 1:
                raise invalid(name, "is a zip without exactly one <archive>/data.pkl")
            prefix = tops[0].removesuffix("data.pkl")
            if f"{prefix}constants.pkl" in infos or any(
                n.startswith(f"{prefix}code/") for n in infos
            ):
                raise PipelineError(
                    ErrorCode.UNSUPPORTED_FORMAT,
                    f"{name} is a TorchScript archive, whose code runs when it is loaded; save "
                    "the model's state_dict with torch.save, or convert it to safetensors.",
                )
            summary, storages = account(name, "zip", scans, pid_length=5)
            for key, storage in sorted(storages.items()):
                record = infos.get(f"{prefix}data/{key}")
                if record is None or record.file_size != storage.nbytes:
                    found = "missing" if record is None else f"{record.file_size} bytes"
                    raise invalid(
                        name,
                        f"storage {key!r} ({storage.numel} × {storage.dtype}) should be "
                        f"{storage.nbytes} bytes at {prefix}data/{key} but is {found}",
                    )
                if on_bytes is not None:
                    on_bytes(record.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise invalid(name, f"is a damaged or unreadable zip ({exc})") from None
    return summary


def _check_legacy(reader: BoundedReader, name: str, magic: PickleScan) -> TorchSummary:
    version = scan_pickle(reader)
    if version.result != LEGACY_PROTOCOL:
        raise invalid(name, f"has legacy protocol version {version.result!r}, not 1001")
    scans = [magic, version, scan_pickle(reader), scan_pickle(reader), scan_pickle(reader)]
    summary, storages = account(name, "legacy", scans, pid_length=6)
    listed = scans[-1].result
    items = listed.items if isinstance(listed, Container) else [listed]
    keys = [key for key in items if isinstance(key, str)]
    # Only strings, each storage once, no other: torch reads exactly these records.
    if len(keys) != len(items) or sorted(keys) != sorted(storages):
        raise invalid(name, "has a storage key list that does not match its storages")
    for key in keys:
        storage = storages[key]
        count = int.from_bytes(reader.read(8), "little")
        if count != storage.numel or reader.position + storage.nbytes > reader.size:
            raise invalid(
                name,
                f"storage {key!r} should hold {storage.numel} elements ({storage.nbytes} bytes) "
                f"at byte {reader.position}; the record says {count} or the file is truncated",
            )
        reader.skip(storage.nbytes)
    if reader.position != reader.size:
        raise invalid(name, f"has {reader.size - reader.position} bytes after its last storage")
    return summary


def check_torch_file(
    path: Path, name: str, on_bytes: OnBytes = None, sniff: bool = False
) -> TorchSummary | None:
    """Scan and check the PyTorch / pickle file `path` (shown to people as `name`).

    With `sniff` (for `.bin`, which is also used for raw data), a file that is neither a
    zip with pickles nor a stream starting with a pickle returns None: it is not a
    pickle. A global outside the allow-list is refused even then.
    """
    with path.open("rb") as raw:
        head = raw.read(4)
    if head == b"PK\x03\x04":
        return _check_zip(path, name, on_bytes, sniff)
    size = path.stat().st_size
    with path.open("rb") as raw:
        reader = BoundedReader(raw, size, name, on_bytes)
        try:
            first = scan_pickle(reader)
        except PipelineError as error:
            if sniff and error.code == ErrorCode.INVALID_MODEL and not head.startswith(b"\x80"):
                return None
            raise
        if type(first.result) is int and first.result == LEGACY_MAGIC:
            return _check_legacy(reader, name, first)
        scans = [first]
        while reader.position < size:
            scans.append(scan_pickle(reader))
    return account(name, "pickle", scans, pid_length=0)[0]
