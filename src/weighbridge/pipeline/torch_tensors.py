"""What the tensors of a scanned PyTorch checkpoint are: storages, views and counts.

Owns the meaning of torch's rebuild calls, as recorded by `pickle_scan`:
`_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`
and `_rebuild_tensor_v3(…, hooks, dtype[, metadata])`, where `storage` is the persistent
id ('storage', storage class, key, location, numel) — plus a sixth item, a view (always
None since PyTorch 1.0), in the legacy format. Invariants (else INVALID_MODEL naming the
file and the tensor or storage):
- every persistent id is such a storage, of a known storage class; one key always
  means one class and numel (torch loads a key once and shares it);
- each tensor has a non-negative offset, size and stride of equal length, a known
  dtype, fewer than 2**63 elements, and its furthest element lies inside its storage
  (numel × the storage's element size; untyped storages count bytes).
Counts: each tensor's own elements per dtype — sum(t.numel()) over what was saved, so
views sharing a storage each count, as torch would report them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.pickle_scan import Global, PersistentId, PickleScan, TensorCall
from weighbridge.pipeline.torch_dtypes import DTYPES, STORAGE_TYPES

_MAX_ELEMENTS = 2**63  # torch sizes are int64


@dataclass
class TorchSummary:
    kind: str  # zip | legacy | pickle
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # by dict key
    dtypes: dict[str, int] = field(default_factory=dict)  # elements per dtype
    tensor_count: int = 0


@dataclass(frozen=True)
class Storage:
    key: str
    dtype: str
    element_size: int
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * self.element_size


def invalid(name: str, problem: str) -> PipelineError:
    return PipelineError(
        ErrorCode.INVALID_MODEL,
        f"{name}: {problem}; the checkpoint is damaged or was not written by torch.save — "
        "save it again (or convert it to safetensors) and upload again.",
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _storage(name: str, found: PersistentId, pid_length: int) -> Storage:
    pid = found.pid
    if not isinstance(pid, tuple) or len(pid) != pid_length or pid[0] != "storage":
        raise invalid(name, f"has a persistent id {pid!r} that is not a torch storage")
    kind, key, location, numel = pid[1:5]
    if not isinstance(kind, Global) or f"{kind.module} {kind.name}" not in STORAGE_TYPES:
        raise invalid(name, f"declares storage {key!r} of type {kind}, not a storage class")
    if not isinstance(key, str) or not isinstance(location, str):
        raise invalid(name, f"declares a storage with key {key!r} at {location!r}")
    if not _is_int(numel) or numel < 0:
        raise invalid(name, f"declares storage {key!r} with {numel!r} elements")
    if pid_length == 6 and pid[5] is not None:
        raise invalid(name, f"uses storage views (storage {key!r}), which only PyTorch < 1.0 wrote")
    dtype, size = STORAGE_TYPES[f"{kind.module} {kind.name}"]
    return Storage(key, dtype, size, numel)


def _tensor(
    name: str, call: TensorCall, number: int, storages: dict[int, Storage], summary: TorchSummary
) -> None:
    """Check one rebuilt tensor against its storage and count its elements."""
    label = repr(call.name) if call.name is not None else f"#{number}"
    v3 = call.function.endswith("_v3")  # (…, backward_hooks, dtype[, metadata])
    args = call.args
    if len(args) not in ((7, 8) if v3 else (6, 7)):
        raise invalid(name, f"tensor {label} is rebuilt with {len(args)} arguments")
    found, offset, size, stride = args[:4]
    if not isinstance(found, PersistentId):
        raise invalid(name, f"tensor {label} is not built on a storage")
    storage = storages[id(found)]
    if not (
        _is_int(offset)
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride)
        and all(_is_int(d) for d in (offset, *size, *stride))
        and min((offset, *size, *stride)) >= 0
    ):
        raise invalid(
            name, f"tensor {label} has offset {offset!r}, size {size!r} and stride {stride!r}"
        )
    dtype, element_size = storage.dtype, storage.element_size
    if v3:
        named = args[6]
        key = f"{named.module} {named.name}" if isinstance(named, Global) else ""
        if key not in DTYPES:
            raise invalid(name, f"tensor {label} has dtype {named!r}, not a torch dtype")
        dtype, element_size = DTYPES[key]
    elements = math.prod(size)
    if elements >= _MAX_ELEMENTS:
        raise invalid(name, f"tensor {label} has size {list(size)}, too many elements")
    if elements:
        last = offset + sum((d - 1) * s for d, s in zip(size, stride, strict=True))
        needed = (last + 1) * element_size
        if needed > storage.nbytes:
            raise invalid(
                name,
                f"tensor {label} ({dtype} {list(size)} at offset {offset}) needs {needed} bytes "
                f"of storage {storage.key!r}, which holds only {storage.nbytes}",
            )
    if call.name is not None:
        summary.shapes.setdefault(call.name, size)
    summary.dtypes[dtype] = summary.dtypes.get(dtype, 0) + elements
    summary.tensor_count += 1


def account(
    name: str, kind: str, scans: list[PickleScan], pid_length: int
) -> tuple[TorchSummary, dict[str, Storage]]:
    """Resolve every storage and tensor of `scans`; return the summary and storages by key."""
    by_key: dict[str, Storage] = {}
    by_id: dict[int, Storage] = {}
    summary = TorchSummary(kind)
    for scan in scans:
        if scan.persistent_ids and pid_length == 0:
            raise invalid(name, "uses persistent ids but is not a torch.save checkpoint")
        for found in scan.persistent_ids:
            storage = by_id[id(found)] = _storage(name, found, pid_length)
            if by_key.setdefault(storage.key, storage) != storage:
                raise invalid(name, f"declares storage {storage.key!r} twice, differently")
    for scan in scans:
        for number, call in enumerate(scan.tensors):
            _tensor(name, call, number, by_id, summary)
    return summary, by_key
