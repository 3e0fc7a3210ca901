"""PyTorch checkpoints and hostile pickles, assembled opcode by opcode (no torch needed).

`PickleWriter` writes protocol-2 opcodes by hand, so tests can say exactly which global,
call or opcode a pickle holds without ever creating (let alone running) the objects.
`torch_zip_bytes` and `torch_legacy_bytes` lay a state dict out the way `torch.save`
does (zip format and legacy format), checked against real torch output in the tests.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# Bytes per element of the storage classes the builders use.
STORAGE_SIZES = {
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ByteStorage": 1,
    "BoolStorage": 1,
}
# Bytes per element of the dtypes given to _rebuild_tensor_v3 (untyped storages count bytes).
DTYPE_SIZES = {"float32": 4, "float16": 2, "uint16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1}


class PickleWriter:
    """Appends pickle opcodes; each method returns self so pickles read top to bottom."""

    def __init__(self, protocol: int = 2) -> None:
        self.out = bytearray(b"\x80" + bytes([protocol]) if protocol >= 2 else b"")

    def raw(self, data: bytes) -> PickleWriter:
        self.out += data
        return self

    def glob(self, module: str, name: str) -> PickleWriter:
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def text(self, value: str) -> PickleWriter:
        data = value.encode()
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def number(self, value: int) -> PickleWriter:
        if 0 <= value < 2**31:
            return self.raw(b"J" + struct.pack("<i", value))
        data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        return self.raw(b"\x8a" + bytes([len(data)]) + data)

    def ints(self, values: Iterable[int]) -> PickleWriter:
        self.mark()
        for value in values:
            self.number(value)
        return self.raw(b"t")

    def mark(self) -> PickleWriter:
        return self.raw(b"(")

    def op(self, code: bytes) -> PickleWriter:
        return self.raw(code)

    def stop(self) -> bytes:
        return bytes(self.out + b".")


@dataclass
class TorchTensor:
    """One tensor of a state dict, stored in its own storage unless `key` is shared."""

    name: str
    shape: tuple[int, ...]
    storage: str = "FloatStorage"  # a torch.<X>Storage class, or "UntypedStorage"
    dtype: str | None = None  # torch dtype name for _rebuild_tensor_v3 (untyped storage)
    key: str | None = None
    offset: int = 0
    stride: tuple[int, ...] | None = None
    numel: int | None = None  # the storage's declared elements (bytes if untyped)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def contiguous_stride(self) -> tuple[int, ...]:
        stride, step = [], 1
        for dim in reversed(self.shape):
            stride.append(step)
            step *= dim
        return tuple(reversed(stride))


def _storage_numel(tensor: TorchTensor) -> int:
    if tensor.numel is not None:
        return tensor.numel
    elements = tensor.offset + tensor.elements
    return elements * DTYPE_SIZES.get(tensor.dtype, 1) if tensor.dtype is not None else elements


def storage_nbytes(tensor: TorchTensor) -> int:
    size = 1 if tensor.storage == "UntypedStorage" else STORAGE_SIZES[tensor.storage]
    return _storage_numel(tensor) * size


def _keys(tensors: list[TorchTensor]) -> list[str]:
    return [t.key if t.key is not None else str(n) for n, t in enumerate(tensors)]


def write_tensor(w: PickleWriter, tensor: TorchTensor, key: str, legacy: bool = False) -> None:
    """Push torch._utils._rebuild_tensor_v2/_v3(storage, offset, size, stride, …) as torch does."""
    v3 = tensor.dtype is not None
    w.glob("torch._utils", "_rebuild_tensor_v3" if v3 else "_rebuild_tensor_v2")
    w.mark().mark().text("storage")
    if tensor.storage == "UntypedStorage":
        w.glob("torch.storage", "UntypedStorage")
    else:
        w.glob("torch", tensor.storage)
    w.text(key).text("cpu").number(_storage_numel(tensor))
    if legacy:
        w.op(b"N")  # view metadata
    w.op(b"tQ").number(tensor.offset).ints(tensor.shape)
    w.ints(tensor.stride if tensor.stride is not None else tensor.contiguous_stride())
    w.op(b"\x89").glob("collections", "OrderedDict").op(b")R")  # requires_grad, hooks
    if v3:
        w.glob("torch", str(tensor.dtype))
    w.op(b"tR")


def state_dict_pickle(tensors: list[TorchTensor], legacy: bool = False) -> bytes:
    """data.pkl of torch.save(OrderedDict of `tensors`) (legacy: 6-item persistent ids)."""
    w = PickleWriter().glob("collections", "OrderedDict").op(b")R").mark()
    for tensor, key in zip(tensors, _keys(tensors), strict=True):
        w.text(tensor.name)
        write_tensor(w, tensor, key, legacy)
    return w.op(b"u").stop()


def torch_zip_bytes(
    tensors: list[TorchTensor],
    data_pkl: bytes | None = None,
    extra: Mapping[str, bytes] | None = None,
    drop: Iterable[str] = (),
    archive: str = "archive",
) -> bytes:
    """A zip-format checkpoint; `extra` adds members, `drop` leaves members out."""
    members: dict[str, bytes] = {f"{archive}/data.pkl": data_pkl or state_dict_pickle(tensors)}
    for tensor, key in zip(tensors, _keys(tensors), strict=True):
        members[f"{archive}/data/{key}"] = bytes(storage_nbytes(tensor))
    members[f"{archive}/byteorder"] = b"little"
    members[f"{archive}/version"] = b"3\n"
    members.update({f"{archive}/{name}": data for name, data in (extra or {}).items()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            if name.removeprefix(f"{archive}/") not in drop:
                zf.writestr(name, data)
    return out.getvalue()


def torch_legacy_bytes(
    tensors: list[TorchTensor],
    keys: list[str] | None = None,
    counts: Mapping[str, int] | None = None,
    sys_info: bytes | None = None,
    trailer: bytes = b"",
) -> bytes:
    """A legacy-format checkpoint: five pickles, then each storage's count and bytes."""
    storages = dict(zip(_keys(tensors), tensors, strict=True))
    listed = sorted(storages) if keys is None else keys
    key_list = PickleWriter().op(b"]").mark()
    for key in listed:
        key_list.text(key)
    info = PickleWriter().op(b"}").mark().text("protocol_version").number(1001)
    info.text("little_endian").op(b"\x88")
    parts = [
        PickleWriter().number(LEGACY_MAGIC).stop(),
        PickleWriter().number(1001).stop(),
        sys_info or info.op(b"u").stop(),
        state_dict_pickle(tensors, legacy=True),
        key_list.op(b"e").stop(),
    ]
    for key in listed:
        tensor = storages[key]
        count = (counts or {}).get(key, _storage_numel(tensor))
        parts.append(struct.pack("<q", count) + bytes(storage_nbytes(tensor)))
    return b"".join(parts) + trailer


def call_pickle(module: str, name: str, *args: str, protocol: int = 2) -> bytes:
    """A pickle that calls module.name(*args) when loaded (REDUCE). Never load it."""
    w = PickleWriter(protocol).glob(module, name).mark()
    for arg in args:
        w.text(arg)
    return w.op(b"tR").stop()


TINY_TORCH = [
    TorchTensor("encoder.weight", (4, 6)),
    TorchTensor("encoder.position_ids", (4,), "LongStorage"),
    TorchTensor("head.bias", (6,), "HalfStorage"),
]
TINY_TORCH_DTYPES = {"F32": 24, "I64": 4, "F16": 6}
