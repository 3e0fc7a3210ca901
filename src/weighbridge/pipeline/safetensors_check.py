"""Validation of a safetensors file from its header alone (the tensor data is never read).

Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data area.
The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets
relative to the data area) plus an optional "__metadata__" of string → string.

Invariants checked, each failure an INVALID_MODEL naming the file and the tensor:
- 0 < N ≤ 100,000,000 (the reference implementation's cap) and N ≤ file size − 8;
- the header is a UTF-8 JSON object without duplicate keys (`json_files`) and
  describes at least one tensor;
- each dtype is known, each shape a list of non-negative ints, and end − begin equals
  the element count × the dtype's size (sub-byte dtypes: the bit count must fill whole
  bytes);
- sorted by offset, the tensors tile the data area exactly: no overlaps, no gaps, and
  the last one ends at file size − 8 − N (as the reference loader requires).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.json_files import parse_json, shown

MAX_HEADER_BYTES = 100_000_000

# Bits per element, as in the reference implementation's Dtype::bitsize.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass
class SafetensorsSummary:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] | None
    dtypes: dict[str, int] = field(default_factory=dict)  # elements per dtype

    @property
    def parameter_count(self) -> int:
        return sum(self.dtypes.values())


def _invalid(
    name: str, problem: str, fix: str = "re-export it with the safetensors library"
) -> PipelineError:
    return PipelineError(ErrorCode.INVALID_MODEL, f"{name}: {problem}; {fix}.")


def read_header(path: Path, name: str) -> tuple[dict[str, Any], int, int]:
    """Read and parse the header; return (header, header length, data area length)."""
    file_size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise _invalid(
                name,
                f"is only {file_size} bytes, too short for a safetensors header; the file is "
                "truncated",
                "upload the complete file",
            )
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len == 0 or header_len > MAX_HEADER_BYTES:
            raise _invalid(
                name,
                f"declares a header of {header_len} bytes (allowed: 1 to {MAX_HEADER_BYTES}); "
                "it is not a safetensors file or is corrupt",
            )
        if header_len > file_size - 8:
            raise _invalid(
                name,
                f"declares a header of {header_len} bytes but the file has only "
                f"{file_size - 8} bytes after the length prefix; the file is truncated or "
                "corrupt",
            )
        raw = handle.read(header_len)
    header = parse_json(
        raw, f"{name}: the header", "re-export it with the safetensors library", unique_keys=True
    )
    if not isinstance(header, dict):
        raise _invalid(name, "has a header that is not a JSON object")
    return header, header_len, file_size - 8 - header_len


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_tensor(name: str, tensor: str, entry: Any, data_len: int) -> TensorInfo:
    where = f"tensor {tensor!r}"
    if not isinstance(entry, dict):
        raise _invalid(name, f"{where} is not described by a JSON object")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise _invalid(
            name,
            f"{where} has unknown dtype {shown(dtype)} (known: {', '.join(sorted(DTYPE_BITS))})",
        )
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _invalid(
            name, f"{where} has shape {shown(shape)}; it must be a list of non-negative integers"
        )
    offsets = entry.get("data_offsets")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) and o >= 0 for o in offsets)
    ):
        raise _invalid(name, f"{where} has data_offsets {shown(offsets)}; it must be [begin, end]")
    begin, end = offsets
    if begin > end:
        raise _invalid(
            name, f"{where} has data_offsets [{begin}, {end}] that end before they begin"
        )
    if end > data_len:
        raise _invalid(
            name,
            f"{where} ends at byte {end} but the data area is only {data_len} bytes; the file "
            "is truncated or corrupt",
            "re-export it or upload the complete file",
        )
    info = TensorInfo(dtype=dtype, shape=tuple(shape), begin=begin, end=end)
    bits = info.elements * DTYPE_BITS[dtype]
    if bits % 8:
        raise _invalid(
            name, f"{where} has {info.elements} {dtype} elements, which do not fill whole bytes"
        )
    if end - begin != bits // 8:
        raise _invalid(
            name,
            f"{where} has shape {list(shape)} of {dtype} ({bits // 8} bytes) but its "
            f"data_offsets span {end - begin} bytes",
        )
    return info


def check_safetensors(path: Path, name: str) -> SafetensorsSummary:
    """Validate `path` (shown to people as `name`) and summarise its tensors."""
    header, _header_len, data_len = read_header(path, name)
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (
        not isinstance(metadata, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise _invalid(name, "has a __metadata__ entry that is not a string-to-string map")
    if not header:
        # Loaders accept it, but a model of no tensors is an export gone wrong.
        raise _invalid(name, "has no tensors (its header lists none)")
    tensors = {t: _parse_tensor(name, t, entry, data_len) for t, entry in header.items()}

    position, previous = 0, None
    for tensor, info in sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
        if info.begin < position:
            raise _invalid(
                name,
                f"tensor {tensor!r} (bytes {info.begin}-{info.end}) overlaps tensor "
                f"{previous!r} (which ends at byte {position})",
            )
        if info.begin > position:
            after = f"after tensor {previous!r}" if previous is not None else "at the start"
            raise _invalid(
                name,
                f"has a gap of {info.begin - position} unused bytes {after}, before tensor "
                f"{tensor!r}; the reference loader refuses such files",
            )
        position, previous = info.end, tensor
    if position != data_len:
        raise _invalid(
            name,
            f"has a data area of {data_len} bytes but its tensors cover only {position}; "
            "the file has trailing bytes or a damaged header",
        )

    dtypes: dict[str, int] = {}
    for info in tensors.values():
        dtypes[info.dtype] = dtypes.get(info.dtype, 0) + info.elements
    return SafetensorsSummary(tensors=tensors, metadata=metadata, dtypes=dtypes)
