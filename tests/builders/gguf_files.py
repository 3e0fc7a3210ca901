"""A tiny hand-written GGUF writer for tests: valid files and deliberately broken ones.

Written from the GGUF spec with struct, so the tests need no `gguf` package; metadata
values are typed by Python type (str → STRING, bool → BOOL, int → UINT32 unless given as
("u64", n) etc., float → FLOAT32, list[str] → ARRAY of STRING, list[int] → ARRAY of INT32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

GGML = {
    "F32": (0, 1, 4),
    "F16": (1, 1, 2),
    "Q4_0": (2, 32, 18),
    "Q8_0": (8, 32, 34),
    "Q4_K": (12, 256, 144),
}
_TYPED = {
    "u8": (0, "<B"),
    "i32": (5, "<i"),
    "u64": (10, "<Q"),
    "i64": (11, "<q"),
    "f64": (12, "<d"),
    "u32": (4, "<I"),
}


@dataclass(frozen=True)
class GgufTensorSpec:
    name: str
    dims: tuple[int, ...]  # innermost first, as GGUF stores them
    type_name: str = "F32"
    offset: int | None = None  # None: placed after the previous tensor, aligned
    type_id: int | None = None  # override the id (to write an unknown type)

    def nbytes(self) -> int:
        _, block, size = GGML[self.type_name]
        elements = 1
        for dim in self.dims:
            elements *= dim
        return elements // block * size


def _string(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return struct.pack("<Q", len(raw)) + raw


def _value(value: Any) -> bytes:
    if isinstance(value, tuple):
        type_id, fmt = _TYPED[value[0]]
        return struct.pack("<I", type_id) + struct.pack(fmt, value[1])
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<II", 4, value)
    if isinstance(value, float):
        return struct.pack("<If", 6, value)
    if isinstance(value, str):
        return struct.pack("<I", 8) + _string(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_string(v) for v in value)
    if isinstance(value, list):
        return struct.pack("<IIQ", 9, 5, len(value)) + b"".join(struct.pack("<i", v) for v in value)
    raise TypeError(f"no GGUF type for {value!r}")


def gguf_bytes(
    metadata: dict[str, Any],
    tensors: list[GgufTensorSpec],
    *,
    alignment: int = 32,
    version: int = 3,
    tensor_count: int | None = None,
) -> bytes:
    """A GGUF file; tensor data is zeros. `tensor_count` overrides the declared count."""
    head = b"GGUF" + struct.pack(
        "<IQQ", version, len(tensors) if tensor_count is None else tensor_count, len(metadata)
    )
    head += b"".join(_string(key) + _value(value) for key, value in metadata.items())
    offsets, position = [], 0
    for spec in tensors:
        offset = position if spec.offset is None else spec.offset
        offsets.append(offset)
        position = -(-(offset + spec.nbytes()) // alignment) * alignment
    for spec, offset in zip(tensors, offsets):
        type_id = GGML[spec.type_name][0] if spec.type_id is None else spec.type_id
        head += _string(spec.name) + struct.pack("<I", len(spec.dims))
        head += b"".join(struct.pack("<Q", d) for d in spec.dims)
        head += struct.pack("<IQ", type_id, offset)
    head += bytes(-len(head) % alignment)
    end = max((o + s.nbytes() for o, s in zip(offsets, tensors)), default=0)
    return head + bytes(end)


def tiny_gguf(architecture: str = "llama", **extra: Any) -> bytes:
    """A small llama-like GGUF: 2 F32 + 1 Q4_0 + 1 Q8_0 tensors, with a vocabulary."""
    metadata: dict[str, Any] = {
        "general.architecture": architecture,
        "general.name": "tiny",
        "llama.context_length": 128,
        "tokenizer.ggml.tokens": ["<s>", "</s>", "a", "b"],
        "tokenizer.ggml.token_type": [1, 3, 1, 1],
        **extra,
    }
    tensors = [
        GgufTensorSpec("token_embd.weight", (64, 4), "Q8_0"),
        GgufTensorSpec("blk.0.attn_q.weight", (64, 64), "Q4_0"),
        GgufTensorSpec("blk.0.attn_norm.weight", (64,), "F32"),
        GgufTensorSpec("output_norm.weight", (64,), "F32"),
    ]
    return gguf_bytes(metadata, tensors)


TINY_GGUF_DTYPES = {"Q8_0": 256, "Q4_0": 4096, "F32": 128}
