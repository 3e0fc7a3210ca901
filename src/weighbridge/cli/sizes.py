"""Byte sizes for people: parsing `--chunk-size` values and printing sizes.

`64MiB`, `64M`, `64m`, `64Mi` all mean 64 × 1024²; `64MB` means 64 × 1000²; a plain
number is bytes. Binary units are the default because chunk sizes are usually powers of
two and `8M` meaning 8 MiB is what most tools do.
"""

from __future__ import annotations

import re

_BINARY = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_DECIMAL = {"kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes in `text` ("64MiB", "8M", "1.5G", "500MB", "1048576"); ValueError if not."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size; use bytes or a unit like 64MiB, 8M, 500MB")
    number, unit = match.groups()
    unit = unit.lower()
    if unit in _DECIMAL:
        factor = _DECIMAL[unit]
    elif unit == "b":
        factor = 1
    else:
        stem = unit.removesuffix("ib").removesuffix("i").removesuffix("b") if unit else ""
        if stem not in _BINARY or (unit and stem == ""):
            raise ValueError(f"unknown unit {unit!r} in {text!r}; use K, M, G, T, KiB, MB, ...")
        factor = _BINARY[stem]
    value = float(number) * factor
    if value != int(value) or value < 1:
        raise ValueError(f"{text!r} is not a whole number of bytes of at least 1")
    return int(value)


def format_size(size: int) -> str:
    """`90868376` → "86.7 MiB"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
