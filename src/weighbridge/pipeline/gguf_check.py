"""Validation of a GGUF file from its header, metadata and tensor table (never the data).

Layout (little-endian): "GGUF", version u32 (2 or 3), tensor count u64, metadata count
u64; metadata entries (string key, u32 value type, value); tensor infos (string name,
u32 n_dims, u64 dims[n_dims] innermost first, u32 ggml type, u64 offset); padding to
`general.alignment` (default 32); the data area. Strings are u64 length + UTF-8 bytes.

Invariants checked, each failure an INVALID_MODEL naming the file (and the tensor or key):
- every length and count is checked against the bytes left in the file before it is
  used, so a hostile header cannot make us allocate or loop beyond the file's size;
- metadata values are skipped, except small `general.*`, `split.*` and `adapter.*`
  scalars, so a huge vocabulary array costs only a seek per string; the reported
  `general.architecture` follows `reported_text`;
- tensor names are unique, n_dims ≤ 4, the type is a known ggml type, the innermost
  dimension is a whole number of quantisation blocks, offsets are aligned, and each
  tensor's bytes lie inside the file without overlapping another's.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.reported_text import reported

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4
MAX_KEY_BYTES = 65_535
MAX_KEPT_STRING_BYTES = 4096
MAX_ARRAY_NESTING = 4
_KEPT_PREFIXES = ("general.", "split.", "adapter.")

# ggml type id → (name, elements per block, bytes per block), as in gguf-py's constants.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}
# metadata value type → struct format of a scalar (STRING = 8 and ARRAY = 9 are special)
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9

MetadataValue = str | int | float | bool


@dataclass
class GgufTensor:
    name: str
    dims: tuple[int, ...]
    type_name: str
    offset: int
    nbytes: int

    @property
    def elements(self) -> int:
        return math.prod(self.dims)


@dataclass
class GgufSummary:
    version: int
    metadata: dict[str, MetadataValue]
    tensors: list[GgufTensor]
    dtypes: dict[str, int] = field(default_factory=dict)  # elements per ggml type

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def parameter_count(self) -> int:
        return sum(self.dtypes.values())


class _Cursor:
    """Reads from a file with every length checked against what the file has left."""

    def __init__(self, handle: BinaryIO, size: int, name: str) -> None:
        self.handle, self.size, self.name, self.pos = handle, size, name, 0

    def fail(self, problem: str) -> PipelineError:
        return PipelineError(
            ErrorCode.INVALID_MODEL,
            f"{self.name}: {problem}; the GGUF file is truncated or corrupt — convert or "
            "download it again.",
        )

    def take(self, count: int, what: str) -> bytes:
        if count > self.size - self.pos:
            raise self.fail(
                f"{what} needs {count} bytes at offset {self.pos} but the file ends at {self.size}"
            )
        data = self.handle.read(count)
        self.pos += count
        return data

    def skip(self, count: int, what: str) -> None:
        if count > self.size - self.pos:
            raise self.fail(
                f"{what} needs {count} bytes at offset {self.pos} but the file ends at {self.size}"
            )
        self.pos += count
        self.handle.seek(self.pos)

    def unpack(self, fmt: str, what: str) -> int | float | bool:
        value: int | float | bool = struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]
        return value

    def u32(self, what: str) -> int:
        return int(self.unpack("<I", what))

    def u64(self, what: str) -> int:
        return int(self.unpack("<Q", what))

    def string(self, what: str, keep_up_to: int | None = None) -> str | None:
        length = self.u64(what)
        if keep_up_to is not None and length > keep_up_to:
            self.skip(length, what)
            return None
        raw = self.take(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None


def _skip_or_read_value(
    cur: _Cursor, vtype: int, key: str, keep: bool, depth: int = 0
) -> MetadataValue | None:
    what = f"metadata value {key!r}"
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        if keep:
            return cur.unpack(fmt, what)
        cur.skip(struct.calcsize(fmt), what)
        return None
    if vtype == _STRING:
        return cur.string(what, MAX_KEPT_STRING_BYTES if keep else 0)
    if vtype == _ARRAY:
        if depth >= MAX_ARRAY_NESTING:
            raise cur.fail(f"{what} nests arrays more than {MAX_ARRAY_NESTING} deep")
        item_type, count = cur.u32(what), cur.u64(what)
        if item_type in _SCALARS:
            cur.skip(count * struct.calcsize(_SCALARS[item_type]), what)
        elif item_type in (_STRING, _ARRAY):
            # Every element takes at least 8 bytes, so a count beyond that is a lie.
            if count * 8 > cur.size - cur.pos:
                raise cur.fail(f"{what} claims {count} elements, more than the file can hold")
            for _ in range(count):
                _skip_or_read_value(cur, item_type, key, False, depth + 1)
        else:
            raise cur.fail(f"{what} is an array of unknown type {item_type}")
        return None
    raise cur.fail(f"{what} has unknown type {vtype}")


def _read_tensor_info(cur: _Cursor, index: int) -> tuple[str, tuple[int, ...], int, int]:
    name = cur.string(f"the name of tensor #{index}", MAX_KEY_BYTES)
    if name is None:
        raise cur.fail(f"tensor #{index} has a name longer than {MAX_KEY_BYTES} bytes")
    n_dims = cur.u32(f"tensor {name!r}")
    if n_dims > MAX_DIMS:
        raise cur.fail(f"tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
    dims = tuple(cur.u64(f"tensor {name!r}") for _ in range(n_dims))
    type_id = cur.u32(f"tensor {name!r}")
    offset = cur.u64(f"tensor {name!r}")
    return name, dims, type_id, offset


def check_gguf(path: Path, name: str) -> GgufSummary:
    """Validate `path` (shown to people as `name`) and summarise it."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        cur = _Cursor(handle, size, name)
        if cur.take(4, "the magic number") != MAGIC:
            raise cur.fail("does not start with 'GGUF'")
        version = cur.u32("the version")
        if version not in (2, 3):
            raise cur.fail(f"is GGUF version {version}; only versions 2 and 3 are supported")
        tensor_count = cur.u64("the tensor count")
        kv_count = cur.u64("the metadata count")
        # A tensor info takes ≥ 24 bytes and a metadata entry ≥ 12: cheap sanity bounds.
        if tensor_count * 24 > size or kv_count * 12 > size:
            raise cur.fail(
                f"claims {tensor_count} tensors and {kv_count} metadata entries, more than the file can hold"
            )
        metadata: dict[str, MetadataValue] = {}
        for index in range(kv_count):
            key = cur.string(f"metadata key #{index}", MAX_KEY_BYTES)
            if key is None:
                raise cur.fail(f"metadata key #{index} is longer than {MAX_KEY_BYTES} bytes")
            vtype = cur.u32(f"the type of metadata {key!r}")
            value = _skip_or_read_value(cur, vtype, key, key.startswith(_KEPT_PREFIXES))
            if value is not None:
                metadata[key] = value
        infos = [_read_tensor_info(cur, index) for index in range(tensor_count)]
        header_end = cur.pos

    architecture = metadata.get("general.architecture")
    if isinstance(architecture, str):
        reported(architecture, name, "general.architecture")

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"has general.alignment {alignment!r}; it must be a power of two")
    data_start = -(-header_end // alignment) * alignment
    tensors: list[GgufTensor] = []
    seen: set[str] = set()
    for tensor_name, dims, type_id, offset in infos:
        where = f"tensor {tensor_name!r}"
        if tensor_name in seen:
            raise cur.fail(f"{where} appears twice")
        seen.add(tensor_name)
        if type_id not in GGML_TYPES:
            raise cur.fail(f"{where} has unknown ggml type {type_id}")
        type_name, block, block_bytes = GGML_TYPES[type_id]
        if dims and dims[0] % block:
            raise cur.fail(
                f"{where} has a row of {dims[0]} {type_name} elements, not a multiple of its block size {block}"
            )
        if offset % alignment:
            raise cur.fail(
                f"{where} starts at offset {offset}, not a multiple of the alignment {alignment}"
            )
        elements = math.prod(dims)
        nbytes = elements // block * block_bytes
        if data_start + offset + nbytes > size:
            raise cur.fail(
                f"{where} ends at byte {data_start + offset + nbytes} but the file has only {size} bytes"
            )
        tensors.append(GgufTensor(tensor_name, dims, type_name, offset, nbytes))

    position, previous = 0, None
    for tensor in sorted(tensors, key=lambda t: (t.offset, t.nbytes)):
        if tensor.offset < position:
            raise cur.fail(f"tensor {tensor.name!r} overlaps tensor {previous!r}")
        position, previous = tensor.offset + tensor.nbytes, tensor.name

    dtypes: dict[str, int] = {}
    for tensor in tensors:
        dtypes[tensor.type_name] = dtypes.get(tensor.type_name, 0) + tensor.elements
    return GgufSummary(version=version, metadata=metadata, tensors=tensors, dtypes=dtypes)
