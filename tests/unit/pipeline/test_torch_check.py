"""PyTorch checkpoint formats, hand-built (no torch needed): counts, storages, refusals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.builders import (
    TINY_TORCH,
    TINY_TORCH_DTYPES,
    PickleWriter,
    TorchTensor,
    call_pickle,
    state_dict_pickle,
    torch_legacy_bytes,
    torch_zip_bytes,
)
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.torch_check import check_torch_file
from weighbridge.pipeline.torch_tensors import TorchSummary


def check(
    tmp_path: Path, data: bytes, name: str = "pytorch_model.bin", sniff: bool = False
) -> TorchSummary | None:
    path = tmp_path / name
    path.write_bytes(data)
    return check_torch_file(path, name, sniff=sniff)


def refused(
    tmp_path: Path, code: ErrorCode, data: bytes, *fragments: str, name: str = "m.pt"
) -> str:
    with pytest.raises(PipelineError) as caught:
        check(tmp_path, data, name)
    assert caught.value.code == code, caught.value.msg
    for fragment in (name, *fragments):
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


VIEWS = [
    *TINY_TORCH,
    # A view into encoder.weight's storage ("0"), as torch.save writes a slice.
    TorchTensor("encoder.slice", (2, 3), key="0", offset=6, stride=(6, 1), numel=24),
]


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_counts_and_shapes(tmp_path: Path, fmt: str) -> None:
    data = torch_zip_bytes(VIEWS) if fmt == "zip" else torch_legacy_bytes(VIEWS)
    summary = check(tmp_path, data)
    assert summary is not None and summary.kind == fmt
    # Each tensor counts its own elements, views too (sum(t.numel()) over the state dict).
    assert summary.dtypes == {**TINY_TORCH_DTYPES, "F32": 24 + 6}
    assert summary.shapes["encoder.slice"] == (2, 3) and summary.tensor_count == 4


def test_untyped_storage_with_a_dtype(tmp_path: Path) -> None:
    tensors = [
        TorchTensor("scale", (3,), "UntypedStorage", dtype="float8_e4m3fn"),
        TorchTensor("ids", (2,), "UntypedStorage", dtype="uint16"),
    ]
    summary = check(tmp_path, torch_zip_bytes(tensors))
    assert summary is not None and summary.dtypes == {"F8_E4M3": 3, "U16": 2}


def test_missing_storage_record(tmp_path: Path) -> None:
    data = torch_zip_bytes(TINY_TORCH, drop=["data/1"])
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "storage '1'", "archive/data/1", "missing")


def test_storage_record_of_the_wrong_size(tmp_path: Path) -> None:
    data = torch_zip_bytes(TINY_TORCH, extra={"data/2": bytes(11)})
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "storage '2'", "12 bytes", "11 bytes")


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_view_outside_its_storage(tmp_path: Path, fmt: str) -> None:
    tensors = [TorchTensor("w", (4, 6), offset=2, numel=24)]  # needs 26 floats
    data = torch_zip_bytes(tensors) if fmt == "zip" else torch_legacy_bytes(tensors)
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "tensor 'w'", "104 bytes", "only 96")


def test_stride_reaching_past_the_storage(tmp_path: Path) -> None:
    tensors = [TorchTensor("w", (4, 6), stride=(7, 1), numel=24)]
    refused(tmp_path, ErrorCode.INVALID_MODEL, torch_zip_bytes(tensors), "tensor 'w'")


def test_negative_size(tmp_path: Path) -> None:
    data = state_dict_pickle([TorchTensor("w", (3,))])
    data = data.replace(b"(J\x03\x00\x00\x00t", b"(J\xfd\xff\xff\xfft", 1)  # size (3,) → (-3,)
    refused(tmp_path, ErrorCode.INVALID_MODEL, torch_zip_bytes([], data_pkl=data), "size (-3,)")


def test_storage_key_declared_twice_differently(tmp_path: Path) -> None:
    tensors = [TorchTensor("a", (2,), key="0"), TorchTensor("b", (2,), "LongStorage", key="0")]
    refused(tmp_path, ErrorCode.INVALID_MODEL, torch_zip_bytes(tensors), "storage '0' twice")


def test_persistent_id_that_is_not_a_storage(tmp_path: Path) -> None:
    data = PickleWriter().mark().text("module").text("x").op(b"tQ").stop()
    refused(
        tmp_path, ErrorCode.INVALID_MODEL, torch_zip_bytes([], data_pkl=data), "not a torch storage"
    )


def test_storage_class_that_is_a_dtype(tmp_path: Path) -> None:
    w = PickleWriter().mark().text("storage").glob("torch", "float32").text("0").text("cpu")
    data = w.number(4).op(b"tQ").stop()
    refused(
        tmp_path, ErrorCode.INVALID_MODEL, torch_zip_bytes([], data_pkl=data), "not a storage class"
    )


def test_v3_dtype_that_is_not_a_dtype(tmp_path: Path) -> None:
    tensors = [TorchTensor("w", (2,), "UntypedStorage", dtype="FloatStorage")]
    refused(
        tmp_path,
        ErrorCode.INVALID_MODEL,
        torch_zip_bytes(tensors),
        "tensor 'w'",
        "not a torch dtype",
    )


def test_zip_without_data_pkl(tmp_path: Path) -> None:
    data = torch_zip_bytes(TINY_TORCH, drop=["data.pkl"], extra={"other.pkl": b"N."})
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "data.pkl")


def test_torchscript_archive_is_unsupported(tmp_path: Path) -> None:
    data = torch_zip_bytes(TINY_TORCH, extra={"code/__torch__.py": b"def forward(self): ..."})
    refused(tmp_path, ErrorCode.UNSUPPORTED_FORMAT, data, "TorchScript")


def test_every_pickle_in_the_zip_is_scanned(tmp_path: Path) -> None:
    data = torch_zip_bytes(TINY_TORCH, extra={"extra.pkl": call_pickle("os", "system", "id")})
    refused(tmp_path, ErrorCode.UNSAFE_PICKLE, data, "archive/extra.pkl", "os.system")


def test_unsafe_data_pkl(tmp_path: Path) -> None:
    data = torch_zip_bytes([], data_pkl=call_pickle("builtins", "exec", "print(1)"))
    refused(tmp_path, ErrorCode.UNSAFE_PICKLE, data, "archive/data.pkl", "builtins.exec")


def test_bytes_after_the_data_pickle(tmp_path: Path) -> None:
    data = torch_zip_bytes(TINY_TORCH, data_pkl=state_dict_pickle(TINY_TORCH) + b"N.")
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "2 bytes after its pickle")


def test_legacy_record_count_must_match(tmp_path: Path) -> None:
    data = torch_legacy_bytes(TINY_TORCH, counts={"1": 5})
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "storage '1'", "4 elements", "says 5")


def test_legacy_truncated(tmp_path: Path) -> None:
    data = torch_legacy_bytes(TINY_TORCH)[:-3]
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "storage '2'", "truncated")


def test_legacy_trailing_bytes(tmp_path: Path) -> None:
    data = torch_legacy_bytes(TINY_TORCH, trailer=call_pickle("os", "system", "id"))
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "bytes after its last storage")


def test_legacy_key_list_must_match(tmp_path: Path) -> None:
    data = torch_legacy_bytes(TINY_TORCH, keys=["0", "1"])
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "key list")


def test_legacy_every_pickle_is_scanned(tmp_path: Path) -> None:
    evil_info = call_pickle("posix", "system", "id")
    data = torch_legacy_bytes(TINY_TORCH, sys_info=evil_info)
    refused(tmp_path, ErrorCode.UNSAFE_PICKLE, data, "posix.system")


def test_legacy_wrong_protocol_version(tmp_path: Path) -> None:
    data = torch_legacy_bytes(TINY_TORCH)
    data = data.replace(b"J\xe9\x03\x00\x00.", b"J\xea\x03\x00\x00.", 1)  # 1001 → 1002
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "1002")


def test_plain_pickle_stream_scans_every_pickle(tmp_path: Path) -> None:
    data = PickleWriter().number(1).stop() + call_pickle("subprocess", "Popen", "id")
    refused(tmp_path, ErrorCode.UNSAFE_PICKLE, data, "subprocess.Popen", name="state.pkl")


def test_plain_pickle_of_plain_data(tmp_path: Path) -> None:
    data = PickleWriter().op(b"}").text("lr").number(3).op(b"s").stop()
    summary = check(tmp_path, data, "optimizer.pt")
    assert summary is not None and summary.kind == "pickle" and summary.dtypes == {}


def test_plain_pickle_with_persistent_ids(tmp_path: Path) -> None:
    data = PickleWriter().text("x").op(b"Q").stop()
    refused(tmp_path, ErrorCode.INVALID_MODEL, data, "persistent ids", name="x.pkl")


@pytest.mark.parametrize("data", [b"\x00\x01raw floats", b"PK\x03\x04", b"K\x01K"])
def test_sniffed_bin_that_is_not_a_pickle(tmp_path: Path, data: bytes) -> None:
    if data.startswith(b"PK"):
        data = torch_zip_bytes(TINY_TORCH, drop=["data.pkl"])  # a zip without pickles
    assert check(tmp_path, data, "weights.bin", sniff=True) is None


def test_sniffed_bin_protocol_0_pickle_is_scanned(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as caught:
        check(tmp_path, b"cos\nsystem\n(S'id'\ntR.", "weights.bin", sniff=True)
    assert caught.value.code == ErrorCode.UNSAFE_PICKLE


def test_sniffed_bin_with_pickle_magic_must_parse(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as caught:
        check(tmp_path, b"\x80\x02\x00", "weights.bin", sniff=True)
    assert caught.value.code == ErrorCode.INVALID_MODEL


def test_compressed_pickle_bomb_is_refused_before_scanning(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + b"N0" * (4 << 20) + b"N.")
    refused(tmp_path, ErrorCode.LIMIT_EXCEEDED, out.getvalue(), "archive/data.pkl", "inflates")


def test_zip_entry_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("weighbridge.pipeline.torch_check.MAX_ZIP_ENTRIES", 3)
    refused(tmp_path, ErrorCode.LIMIT_EXCEEDED, torch_zip_bytes(TINY_TORCH), "zip entries")
