"""Checking PyTorch checkpoints without torch and without unpickling them.

Owns the file formats `torch.save` writes and what their tensors add up to:

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

Invariants (else INVALID_MODEL naming the file and the tensor or storage):
- tensors are rebuilt only from storage persistent ids ('storage', storage class, key,
  location, numel[, view]); one key always means one class and numel;
- each tensor's view (offset, size, stride) lies within its storage's bytes;
- zip: data/<key> exists for each storage and holds exactly numel × element size bytes;
  TorchScript archives (code/, constants.pkl) are UNSUPPORTED_FORMAT;
- legacy: the key list names exactly the storages used, each record's element count is
  the storage's numel, and nothing follows the last record.
Counts: each tensor's elements per dtype, i.e. sum(t.numel()) over the saved tensors.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.pickle_scan import (
    Container,
    Global,
    PersistentId,
    PickleScan,
    TensorCall,
    scan_pickle,
)
from weighbridge.pipeline.pickle_stream import BoundedReader
from weighbridge.pipeline.torch_dtypes import DTYPES, STORAGE_TYPES

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_MAX_ELEMENTS = 2**63  # torch sizes are int64

OnBytes = Callable[[int], None] | None


@dataclass
class TorchSummary:
    kind: str  # zip | legacy | pickle
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # by dict key
    dtypes: dict[str, int] = field(default_factory=dict)  # elements per dtype
    tensor_count: int = 0


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: str
    element_size: int
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * self.element_size


def has_pickle_suffix(rel: str) -> bool:
    return PurePosixPath(rel).suffix.lower() in PICKLE_SUFFIXES


def _invalid(name: str, problem: str) -> PipelineError:
    return PipelineError(
        ErrorCode.INVALID_MODEL,
        f"{name}: {problem}; the checkpoint is damaged or was not written by torch.save — "
        "save it again (or convert it to safetensors) and upload again.",
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _storage(name: str, found: PersistentId, pid_length: int) -> _Storage:
    pid = found.pid
    if not isinstance(pid, tuple) or len(pid) != pid_length or pid[0] != "storage":
        raise _invalid(name, f"has a persistent id {pid!r} that is not a torch storage")
    kind, key, location, numel = pid[1:5]
    if not isinstance(kind, Global) or f"{kind.module} {kind.name}" not in STORAGE_TYPES:
        raise _invalid(name, f"declares storage {key!r} of type {kind}, not a storage class")
    if not isinstance(key, str) or not isinstance(location, str):
        raise _invalid(name, f"declares a storage with key {key!r} at {location!r}")
    if not _is_int(numel) or numel < 0:
        raise _invalid(name, f"declares storage {key!r} with {numel!r} elements")
    if pid_length == 6 and pid[5] is not None:
        raise _invalid(
            name, f"uses storage views (storage {key!r}), which only PyTorch < 1.0 wrote"
        )
    dtype, size = STORAGE_TYPES[f"{kind.module} {kind.name}"]
    return _Storage(key, dtype, size, numel)


def _tensor(
    name: str, call: TensorCall, number: int, storages: dict[int, _Storage], summary: TorchSummary
) -> None:
    """Check one rebuilt tensor against its storage and count its elements."""
    label = repr(call.name) if call.name is not None else f"#{number}"
    v3 = call.function.endswith("_v3")  # (…, backward_hooks, dtype[, metadata])
    args = call.args
    if len(args) not in ((7, 8) if v3 else (6, 7)):
        raise _invalid(name, f"tensor {label} is rebuilt with {len(args)} arguments")
    found, offset, size, stride = args[:4]
    if not isinstance(found, PersistentId):
        raise _invalid(name, f"tensor {label} is not built on a storage")
    storage = storages[id(found)]
    if not (
        _is_int(offset)
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride)
        and all(_is_int(d) for d in (offset, *size, *stride))
        and min((offset, *size, *stride)) >= 0
    ):
        raise _invalid(
            name, f"tensor {label} has offset {offset!r}, size {size!r} and stride {stride!r}"
        )
    dtype, element_size = storage.dtype, storage.element_size
    if v3:
        named = args[6]
        key = f"{named.module} {named.name}" if isinstance(named, Global) else ""
        if key not in DTYPES:
            raise _invalid(name, f"tensor {label} has dtype {named!r}, not a torch dtype")
        dtype, element_size = DTYPES[key]
    elements = math.prod(size)
    if elements >= _MAX_ELEMENTS:
        raise _invalid(name, f"tensor {label} has size {list(size)}, too many elements")
    if elements:
        last = offset + sum((d - 1) * s for d, s in zip(size, stride, strict=True))
        needed = (last + 1) * element_size
        if needed > storage.nbytes:
            raise _invalid(
                name,
                f"tensor {label} ({dtype} {list(size)} at offset {offset}) needs {needed} bytes "
                f"of storage {storage.key!r}, which holds only {storage.nbytes}",
            )
    if call.name is not None:
        summary.shapes.setdefault(call.name, size)
    summary.dtypes[dtype] = summary.dtypes.get(dtype, 0) + elements
    summary.tensor_count += 1


def _account(
    name: str, kind: str, scans: list[PickleScan], pid_length: int
) -> tuple[TorchSummary, dict[str, _Storage]]:
    """Resolve every storage and tensor of `scans`; return the summary and storages by key."""
    by_key: dict[str, _Storage] = {}
    by_id: dict[int, _Storage] = {}
    summary = TorchSummary(kind)
    for scan in scans:
        if scan.persistent_ids and pid_length == 0:
            raise _invalid(name, "uses persistent ids but is not a torch.save checkpoint")
        for found in scan.persistent_ids:
            storage = by_id[id(found)] = _storage(name, found, pid_length)
            if by_key.setdefault(storage.key, storage) != storage:
                raise _invalid(name, f"declares storage {storage.key!r} twice, differently")
    for scan in scans:
        for number, call in enumerate(scan.tensors):
            _tensor(name, call, number, by_id, summary)
    return summary, by_key


def _scan_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, on_bytes: OnBytes
) -> PickleScan:
    where = f"{name} (member {info.filename})"
    with archive.open(info) as raw:
        reader = BoundedReader(raw, info.file_size, where, on_bytes)  # type: ignore[arg-type]
        scan = scan_pickle(reader)
        if reader.position != info.file_size:
            raise _invalid(where, f"has {info.file_size - reader.position} bytes after its pickle")
    return scan


def _check_zip(path: Path, name: str, on_bytes: OnBytes, sniff: bool) -> TorchSummary | None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if len(infos) != len(archive.infolist()):
                raise _invalid(name, "has duplicate member names")
            pickles = sorted(n for n in infos if n.endswith(".pkl"))
            if sniff and not pickles:
                return None  # a zip, but no pickle in it: data, not a checkpoint
            scans = [_scan_member(archive, infos[n], name, on_bytes) for n in pickles]
            tops = [n for n in pickles if n.count("/") == 1 and n.endswith("/data.pkl")]
            if len(tops) != 1:
                raise _invalid(name, "is a zip without exactly one <archive>/data.pkl")
            prefix = tops[0].removesuffix("data.pkl")
            if f"{prefix}constants.pkl" in infos or any(
                n.startswith(f"{prefix}code/") for n in infos
            ):
                raise PipelineError(
                    ErrorCode.UNSUPPORTED_FORMAT,
                    f"{name} is a TorchScript archive, whose code runs when it is loaded; save "
                    "the model's state_dict with torch.save, or convert it to safetensors.",
                )
            summary, storages = _account(name, "zip", scans, pid_length=5)
            for key, storage in sorted(storages.items()):
                record = infos.get(f"{prefix}data/{key}")
                if record is None or record.file_size != storage.nbytes:
                    found = "missing" if record is None else f"{record.file_size} bytes"
                    raise _invalid(
                        name,
                        f"storage {key!r} ({storage.numel} × {storage.dtype}) should be "
                        f"{storage.nbytes} bytes at {prefix}data/{key} but is {found}",
                    )
                if on_bytes is not None:
                    on_bytes(record.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _invalid(name, f"is a damaged or unreadable zip ({exc})") from None
    return summary


def _check_legacy(reader: BoundedReader, name: str, magic: PickleScan) -> TorchSummary:
    version = scan_pickle(reader)
    if version.result != LEGACY_PROTOCOL:
        raise _invalid(name, f"has legacy protocol version {version.result!r}, not 1001")
    scans = [magic, version, scan_pickle(reader), scan_pickle(reader), scan_pickle(reader)]
    summary, storages = _account(name, "legacy", scans, pid_length=6)
    listed = scans[-1].result
    items = listed.items if isinstance(listed, Container) else [listed]
    keys = [key for key in items if isinstance(key, str)]
    # Only strings, each storage once, no other: torch reads exactly these records.
    if len(keys) != len(items) or sorted(keys) != sorted(storages):
        raise _invalid(name, "has a storage key list that does not match its storages")
    for key in keys:
        storage = storages[key]
        count = int.from_bytes(reader.read(8), "little")
        if count != storage.numel or reader.position + storage.nbytes > reader.size:
            raise _invalid(
                name,
                f"storage {key!r} should hold {storage.numel} elements ({storage.nbytes} bytes) "
                f"at byte {reader.position}; the record says {count} or the file is truncated",
            )
        reader.skip(storage.nbytes)
    if reader.position != reader.size:
        raise _invalid(name, f"has {reader.size - reader.position} bytes after its last storage")
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
        if _is_int(first.result) and first.result == LEGACY_MAGIC:
            return _check_legacy(reader, name, first)
        scans = [first]
        while reader.position < size:
            scans.append(scan_pickle(reader))
    return _account(name, "pickle", scans, pid_length=0)[0]
