"""run_import end to end: the real MiniLM model, checksums, sizes, top-level strip,
bare files, progress and the staging contract."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.builders import (
    TINY_GGUF_DTYPES,
    Member,
    file_pieces,
    members,
    pieces,
    safetensors_bytes,
    tar_bytes,
    tiny_gguf,
    tiny_model,
    write_tar_of_dir,
    write_zip_of_dir,
    zip_bytes,
)
from tests.unit.pipeline.conftest import Importer, Progress
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.result import ImportResult

MINILM_PARAMETERS = 22_713_728
MINILM_DTYPES = {"F32": 22_713_216, "I64": 512}
MODEL = tiny_model()


def expect(code: ErrorCode, run: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(PipelineError) as caught:
        run()
    assert caught.value.code == code, caught.value.msg
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for piece in file_pieces(path):
        digest.update(piece)
    return digest.hexdigest()


def check_minilm(result: ImportResult, minilm: Path, staging: Path) -> None:
    assert result.parameter_count == MINILM_PARAMETERS
    assert result.dtypes == MINILM_DTYPES
    assert (result.architecture, result.model_type) == ("BertModel", "bert")
    assert result.format == "safetensors" and result.is_adapter is False
    assert result.warnings == []
    expected = {p.relative_to(minilm).as_posix() for p in minilm.rglob("*") if p.is_file()}
    assert {f.path for f in result.files} == expected
    weights = next(f for f in result.files if f.path == "model.safetensors")
    assert weights.size == 90_868_376
    assert weights.sha256 == sha256_of(minilm / "model.safetensors")
    assert result.size_bytes == sum(f.size for f in result.files)
    on_disk = {
        p.relative_to(staging / "model").as_posix()
        for p in (staging / "model").rglob("*")
        if p.is_file()
    }
    assert on_disk == expected
    assert {p.name for p in staging.iterdir()} == {"model"}  # scratch is gone


@pytest.mark.parametrize(("compression", "extension"), [("", "tar"), ("gz", "tar.gz")])
def test_real_minilm_tar_with_top_folder(
    do_import: Importer,
    staging: Path,
    tmp_path: Path,
    minilm: Path,
    compression: str,
    extension: str,
) -> None:
    archive = tmp_path / f"minilm.{extension}"
    write_tar_of_dir(minilm, archive, "all-MiniLM-L6-v2", compression)
    digest = sha256_of(archive)
    result = do_import(
        None,
        extension,
        source=file_pieces(archive),
        total_bytes=archive.stat().st_size,
        sha256=digest,
    )
    assert result.sha256 == digest
    check_minilm(result, minilm, staging)


def test_real_minilm_zip(do_import: Importer, staging: Path, tmp_path: Path, minilm: Path) -> None:
    archive = tmp_path / "minilm.zip"
    write_zip_of_dir(minilm, archive, "all-MiniLM-L6-v2")
    result = do_import(
        None, "zip", source=file_pieces(archive), total_bytes=archive.stat().st_size, sha256=None
    )
    assert result.sha256 == sha256_of(archive)
    check_minilm(result, minilm, staging)


def test_real_minilm_bare_safetensors(do_import: Importer, staging: Path, minilm: Path) -> None:
    weights = minilm / "model.safetensors"
    digest = sha256_of(weights)
    result = do_import(
        None,
        "safetensors",
        source=file_pieces(weights),
        total_bytes=weights.stat().st_size,
        sha256=digest,
        file_name="model.safetensors",
    )
    assert result.parameter_count == MINILM_PARAMETERS and result.dtypes == MINILM_DTYPES
    assert [(f.path, f.size, f.sha256) for f in result.files] == [
        ("model.safetensors", 90_868_376, digest)
    ]
    assert result.sha256 == digest
    assert (staging / "model" / "model.safetensors").stat().st_size == 90_868_376
    assert any("config.json" in w for w in result.warnings)


def test_checksum_mismatch(do_import: Importer) -> None:
    data = tar_bytes(members(MODEL))
    msg = expect(
        ErrorCode.CHECKSUM_MISMATCH, lambda: do_import(data, "tar", sha256="ab" * 32), "ab" * 32
    )
    assert hashlib.sha256(data).hexdigest() in msg


def test_checksum_mismatch_wins_over_a_damaged_archive(do_import: Importer) -> None:
    data = tar_bytes(members(MODEL))
    damaged = b"\xff" * 512 + data[512:]  # the first header, corrupted in transit
    expect(
        ErrorCode.CHECKSUM_MISMATCH,
        lambda: do_import(damaged, "tar", sha256=hashlib.sha256(data).hexdigest()),
    )
    # Without a checksum the same bytes are judged as what they are.
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(damaged, "tar", sha256=None))


@pytest.mark.parametrize("extension", ["tar", "zip", "safetensors"])
def test_short_upload_is_a_size_mismatch(do_import: Importer, extension: str) -> None:
    data = {
        "tar": tar_bytes(members(MODEL)),
        "zip": zip_bytes(members(MODEL)),
        "safetensors": MODEL["model.safetensors"],
    }[extension]
    expect(
        ErrorCode.SIZE_MISMATCH,
        lambda: do_import(data[:-100], extension, total_bytes=len(data), sha256=None),
        str(len(data)),
    )


def test_long_upload_is_a_size_mismatch(do_import: Importer) -> None:
    data = MODEL["model.safetensors"]
    expect(
        ErrorCode.SIZE_MISMATCH,
        lambda: do_import(data, "safetensors", total_bytes=len(data) - 1, sha256=None),
    )


def test_single_top_folder_is_stripped(do_import: Importer, staging: Path) -> None:
    result = do_import(tar_bytes(members(MODEL, top="mymodel")), "tar")
    assert sorted(f.path for f in result.files) == sorted(MODEL)
    assert (staging / "model" / "config.json").is_file()
    assert not (staging / "model" / "mymodel").exists()


def test_top_folder_without_its_own_entry_is_stripped(do_import: Importer) -> None:
    items = [Member(f"mymodel/sub/{name}", data) for name, data in MODEL.items()]
    with pytest.raises(PipelineError, match="subfolders"):
        do_import(tar_bytes(items), "tar")  # only one level is stripped
    items = [Member(f"./mymodel/{name}", data) for name, data in MODEL.items()]
    assert do_import(tar_bytes(items), "tar").parameter_count == 34


def test_two_top_folders_are_kept(do_import: Importer) -> None:
    items = [*members(MODEL), Member("extras/notes.txt", b"hi")]
    result = do_import(zip_bytes(items), "zip")
    assert "extras/notes.txt" in {f.path for f in result.files}


def test_file_entries_hash_each_member(do_import: Importer) -> None:
    result = do_import(tar_bytes(members(MODEL), "gz"), "tgz")
    assert {(f.path, f.size, f.sha256) for f in result.files} == {
        (name, len(data), hashlib.sha256(data).hexdigest()) for name, data in MODEL.items()
    }
    assert result.size_bytes == sum(len(d) for d in MODEL.values())


def test_bare_file_name_gets_its_extension(do_import: Importer, staging: Path) -> None:
    result = do_import(MODEL["model.safetensors"], ".SafeTensors", file_name="weights")
    assert [f.path for f in result.files] == ["weights.safetensors"]
    assert (staging / "model" / "weights.safetensors").is_file()


def test_bare_file_name_must_be_plain(do_import: Importer) -> None:
    expect(
        ErrorCode.UNSAFE_ARCHIVE,
        lambda: do_import(MODEL["model.safetensors"], "safetensors", file_name="../x.safetensors"),
    )


def test_bare_corrupt_safetensors(do_import: Importer) -> None:
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: do_import(b"\x00" * 64, "safetensors", file_name="m.safetensors"),
        "m.safetensors",
    )


def test_bare_gguf(do_import: Importer, staging: Path) -> None:
    data = tiny_gguf("qwen2")
    result = do_import(data, "gguf", file_name="tiny-q4.gguf")
    assert (result.format, result.architecture, result.model_type) == ("gguf", "qwen2", None)
    assert result.dtypes == TINY_GGUF_DTYPES and result.parameter_count == 4480
    assert [(f.path, f.size, f.sha256) for f in result.files] == [
        ("tiny-q4.gguf", len(data), hashlib.sha256(data).hexdigest())
    ]
    assert result.warnings == []
    assert (staging / "model" / "tiny-q4.gguf").read_bytes() == data


def test_bare_gguf_adapter_flag(do_import: Importer) -> None:
    adapter = tiny_gguf(**{"general.type": "adapter", "adapter.type": "lora"})
    assert do_import(adapter, "gguf", is_adapter=True, base_model="llama-3").is_adapter
    expect(ErrorCode.ADAPTER_MISMATCH, lambda: do_import(tiny_gguf(), "gguf", is_adapter=True))


def test_bare_broken_gguf(do_import: Importer) -> None:
    expect(
        ErrorCode.INVALID_MODEL,
        lambda: do_import(b"GGUF" + bytes(60), "gguf", file_name="m.gguf"),
        "m.gguf",
    )


def test_bare_adapter_flag_mismatch(do_import: Importer) -> None:
    expect(
        ErrorCode.ADAPTER_MISMATCH,
        lambda: do_import(MODEL["model.safetensors"], "safetensors", is_adapter=True),
        "adapter_config.json",
    )


def test_unsupported_extension(do_import: Importer) -> None:
    expect(ErrorCode.UNSUPPORTED_FORMAT, lambda: do_import(b"x", "rar"), "'rar'")


def test_source_is_read_once_lazily(do_import: Importer) -> None:
    data = tar_bytes(members(MODEL))
    pulled: list[int] = []

    def source() -> Iterator[bytes]:
        for piece in pieces(data, 1000):
            pulled.append(len(piece))
            yield piece

    do_import(data, "tar", source=source())
    assert sum(pulled) == len(data)


@pytest.mark.parametrize("extension", ["tar", "zip", "safetensors"])
def test_progress_moves_with_bytes(do_import: Importer, progress: Progress, extension: str) -> None:
    big = bytes(40 * 1024 * 1024)  # 40 MiB of padding makes several 8 MiB steps
    files = {**MODEL, "padding.txt": big}
    if extension == "safetensors":
        # A valid file of 40 MiB: one big U8 tensor.
        data = safetensors_bytes({"w": np.zeros(len(big), np.uint8)})
    else:
        data = (tar_bytes if extension == "tar" else zip_bytes)(members(files))
    do_import(data, extension, piece_bytes=1024 * 1024)
    fractions = [f for _, f in progress.calls]
    phases = [p for p, _ in progress.calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 <= fractions[0]
    assert phases[-1] == "VALIDATING"
    assert set(phases) <= {"VERIFYING", "UNPACKING", "VALIDATING"}
    steps = [f for p, f in progress.calls if p != "VALIDATING"]
    assert len(steps) >= 5  # moved while bytes flowed, not only at the end
    assert len(progress.calls) < 40  # …but not for every 1 MiB piece
