"""Strings reported into the model record: no control characters, bounded length."""

from __future__ import annotations

import pytest

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.reported_text import NAME_CHARS, reported


@pytest.mark.parametrize("value", ["BertModel", "bert", "Ünïcode-Módel", "x" * NAME_CHARS, ""])
def test_ordinary_values_pass_unchanged(value: str) -> None:
    assert reported(value, "config.json", "model_type") == value


@pytest.mark.parametrize("char", ["\x00", "\x01", "\n", "\t", "\x1b", "\x1f", "\x7f"])
def test_control_characters_are_refused(char: str) -> None:
    with pytest.raises(PipelineError) as caught:
        reported(f"Bert{char}Model", "config.json", "architectures[0]")
    assert caught.value.code == ErrorCode.INVALID_MODEL
    message = caught.value.msg
    assert message.startswith("config.json: architectures[0] ")
    assert "control characters" in message
    assert char not in message  # shown escaped: a NUL must not reach the job record


def test_too_long_is_refused() -> None:
    with pytest.raises(PipelineError) as caught:
        reported("x" * 600, "adapter_config.json", "base_model_name_or_path", 512)
    assert caught.value.code == ErrorCode.INVALID_MODEL
    assert "600 characters long" in caught.value.msg and "512 allowed" in caught.value.msg
    assert len(caught.value.msg) < 300
