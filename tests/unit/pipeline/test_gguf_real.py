"""The GGUF check against files written by the reference `gguf` package (llama.cpp's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weighbridge.errors import PipelineError
from weighbridge.pipeline.gguf_check import check_gguf

gguf = pytest.importorskip("gguf", reason="the reference writer (pip install gguf) is absent")


def write_gguf(path: Path, tensors: dict[str, np.ndarray]) -> None:  # type: ignore[type-arg]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(2048)
    for name, value in tensors.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_reference_gguf_is_read_with_its_architecture_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    write_gguf(path, {"tok_embd.weight": np.ones((8, 4), dtype=np.float32),
                      "output_norm.weight": np.ones(3, dtype=np.float16)})
    summary = check_gguf(path, "m.gguf")
    assert summary.metadata["general.architecture"] == "llama"
    assert summary.dtypes == {"F32": 32, "F16": 3}
    assert {t.name for t in summary.tensors} == {"tok_embd.weight", "output_norm.weight"}


def test_a_truncated_reference_gguf_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    write_gguf(path, {"tok_embd.weight": np.ones((64, 64), dtype=np.float32)})
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(PipelineError) as raised:
        check_gguf(path, "cut.gguf")
    assert "cut.gguf" in raised.value.msg
