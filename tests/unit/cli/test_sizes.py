"""`--chunk-size` parsing and size printing."""

from __future__ import annotations

import pytest

from weighbridge.cli.sizes import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64MiB", 64 << 20),
        ("8M", 8 << 20),
        ("8m", 8 << 20),
        ("1048576", 1 << 20),
        ("500MB", 500_000_000),
        ("1.5G", 3 << 29),
        ("2Ki", 2048),
        ("64 MiB", 64 << 20),
        ("1kb", 1000),
        ("100B", 100),
        ("1T", 1 << 40),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "x", "8Q", "0", "1.3", "b", "-5", "5 M B"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_size() -> None:
    assert format_size(100) == "100 B"
    assert format_size(90_868_376) == "86.7 MiB"
    assert format_size(3 << 40) == "3.0 TiB"
