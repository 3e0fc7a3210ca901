"""Names of torch storage classes and dtypes as they appear in a checkpoint's pickle.

Owns the one table that both the pickle allow-list (`pickle_scan`) and the tensor
accounting (`torch_check`) read. Each name is the GLOBAL a real `torch.save` writes
("module name", as `pickletools` prints it) and maps to the dtype name the model record
uses (the safetensors spelling, so safetensors and PyTorch models count alike) and the
bytes per element. Verified against torch 2.x output: typed storages for the classic
dtypes, `torch.storage.UntypedStorage` plus a dtype global (via `_rebuild_tensor_v3`)
for the newer ones (uint16/32/64, float8).

Quantized storages (QInt8Storage, …) are deliberately absent: a plain tensor checkpoint
does not need them, so they are refused like any other unknown global.
"""

from __future__ import annotations

# Typed storage class → (dtype, bytes per element). Untyped storages count bytes.
STORAGE_TYPES: dict[str, tuple[str, int]] = {
    "torch DoubleStorage": ("F64", 8),
    "torch FloatStorage": ("F32", 4),
    "torch HalfStorage": ("F16", 2),
    "torch BFloat16Storage": ("BF16", 2),
    "torch LongStorage": ("I64", 8),
    "torch IntStorage": ("I32", 4),
    "torch ShortStorage": ("I16", 2),
    "torch CharStorage": ("I8", 1),
    "torch ByteStorage": ("U8", 1),
    "torch BoolStorage": ("BOOL", 1),
    "torch ComplexFloatStorage": ("C64", 8),
    "torch ComplexDoubleStorage": ("C128", 16),
    "torch.storage UntypedStorage": ("U8", 1),
}

# dtype global (as pickled by torch.dtype.__reduce__) → (dtype, bytes per element).
DTYPES: dict[str, tuple[str, int]] = {
    "torch float64": ("F64", 8),
    "torch float32": ("F32", 4),
    "torch float16": ("F16", 2),
    "torch bfloat16": ("BF16", 2),
    "torch int64": ("I64", 8),
    "torch int32": ("I32", 4),
    "torch int16": ("I16", 2),
    "torch int8": ("I8", 1),
    "torch uint8": ("U8", 1),
    "torch uint16": ("U16", 2),
    "torch uint32": ("U32", 4),
    "torch uint64": ("U64", 8),
    "torch bool": ("BOOL", 1),
    "torch complex64": ("C64", 8),
    "torch complex128": ("C128", 16),
    "torch float8_e4m3fn": ("F8_E4M3", 1),
    "torch float8_e5m2": ("F8_E5M2", 1),
    "torch float8_e4m3fnuz": ("F8_E4M3FNUZ", 1),
    "torch float8_e5m2fnuz": ("F8_E5M2FNUZ", 1),
    "torch float8_e8m0fnu": ("F8_E8M0", 1),
}
