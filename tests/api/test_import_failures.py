"""Import jobs that must fail, with the job's error code and message (DESIGN §2.7, §3).

Every hostile input is built in code (tests/builders). Each failed import must leave
no model behind: GET /models/{id} is 404 and nothing is stored under the model's id.
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.gale import error, sha256, upload_session
from tests.builders import (
    CONFIG,
    TINY_TORCH,
    TINY_TORCH_DTYPES,
    Member,
    call_pickle,
    gzip_bomb_tar,
    json_bytes,
    members,
    peft_adapter,
    raw_safetensors,
    safetensors_bytes,
    tar_bytes,
    tiny_model,
    tiny_tensors,
    torch_zip_bytes,
    zip_bytes,
)
from tests.builders.gguf_files import tiny_gguf
from tests.live_server import LiveServer


def failed(api: httpx.Client, server: LiveServer, data: bytes, ext: str, code: str,
           n: int = 1, **extra: Any) -> dict[str, Any]:
    """Upload `data`, expect the job to end FAILED with `code`; return the error."""
    session, _, job = upload_session(api, data, ext, min(n, len(data)), **extra)
    assert job["status"] == "FAILED", job
    err = job["error"]
    assert err["code"] == code, job
    assert isinstance(err["msg"], str) and len(err["msg"]) > 10, job
    assert "Traceback" not in err["msg"]
    assert job.get("response") is None
    model_id = session["modelId"]
    error(api.get(f"/api/public/models/{model_id}"), 404, "NOT_FOUND")
    assert not any(p.name == model_id for p in server.data_dir.rglob("cm-*")), \
        f"files of the failed model {model_id} were kept"
    return dict(err)


def succeeded(api: httpx.Client, data: bytes, ext: str, **extra: Any) -> dict[str, Any]:
    _, _, job = upload_session(api, data, ext, 1, **extra)
    assert job["status"] == "SUCCESS", job
    return dict(job["response"])


def hostile_tar(extra: list[Member], compression: str = "") -> bytes:
    """A valid little model in a top folder, plus the `extra` members after it."""
    return tar_bytes([*members(tiny_model(), top="tiny"), *extra], compression)


# --- unsafe archives -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 4, 6])
def test_tar_member_climbing_out_is_unsafe_and_writes_nothing(api: httpx.Client,
                                                              server: LiveServer,
                                                              depth: int) -> None:
    name = f"escape-{uuid.uuid4().hex}.txt"
    member = "../" * depth + name
    data = hostile_tar([Member(member, b"pwned")])
    err = failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert name in err["msg"], err
    # Nowhere the member could have landed holds it: search the server's whole tree
    # and the places the member names relative to each folder of the data directory.
    root = server.data_dir.parent
    assert not list(root.rglob(name))
    for base in [server.data_dir, *[p for p in server.data_dir.rglob("*") if p.is_dir()]]:
        assert not (base / member).resolve().exists()


def test_tar_member_climbing_out_through_a_folder_is_unsafe(api: httpx.Client,
                                                            server: LiveServer) -> None:
    name = f"escape-{uuid.uuid4().hex}.txt"
    data = hostile_tar([Member(f"tiny/../../{name}", b"pwned")])
    failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert not list(server.data_dir.parent.rglob(name))


def test_tar_member_with_an_absolute_path_is_unsafe(api: httpx.Client,
                                                    server: LiveServer) -> None:
    target = server.data_dir.parent / f"absolute-{uuid.uuid4().hex}.txt"
    data = hostile_tar([Member(str(target), b"pwned")])
    failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert not target.exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "config.json", "../../../../etc/passwd"])
def test_tar_with_a_symlink_is_unsafe(api: httpx.Client, server: LiveServer,
                                      target: str) -> None:
    data = hostile_tar([Member("tiny/vocab.txt", kind="symlink", target=target)])
    err = failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert "vocab.txt" in err["msg"], err


def test_symlink_then_a_file_through_it_is_unsafe(api: httpx.Client, server: LiveServer) -> None:
    outside = server.data_dir.parent / f"through-link-{uuid.uuid4().hex}"
    outside.mkdir()
    data = tar_bytes([Member("tiny/", kind="dir"),
                      Member("tiny/sub", kind="symlink", target=str(outside)),
                      Member("tiny/sub/evil.txt", b"pwned"),
                      *members(tiny_model(), top="tiny")[1:]])
    failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("kind", ["hardlink", "chardev", "blockdev", "fifo"])
def test_tar_with_links_devices_or_fifos_is_unsafe(api: httpx.Client, server: LiveServer,
                                                   kind: str) -> None:
    target = "tiny/config.json" if kind == "hardlink" else ""
    data = hostile_tar([Member("tiny/special", kind=kind, target=target)])
    err = failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert "special" in err["msg"], err


def test_tar_with_duplicate_names_is_unsafe(api: httpx.Client, server: LiveServer) -> None:
    data = hostile_tar([Member("tiny/config.json", json_bytes({"model_type": "evil"}))])
    err = failed(api, server, data, "tar", "UNSAFE_ARCHIVE")
    assert "config.json" in err["msg"], err


def test_tar_gz_with_a_climbing_member_is_unsafe(api: httpx.Client, server: LiveServer) -> None:
    name = f"escape-{uuid.uuid4().hex}.txt"
    data = hostile_tar([Member(f"../../{name}", b"pwned")], compression="gz")
    failed(api, server, data, "tar.gz", "UNSAFE_ARCHIVE")
    assert not list(server.data_dir.parent.rglob(name))


@pytest.mark.parametrize("member", ["../{}", "../../../../{}", "/tmp/{}", "tiny/../../{}"])
def test_zip_member_climbing_out_is_unsafe(api: httpx.Client, server: LiveServer,
                                           member: str) -> None:
    name = f"zip-escape-{uuid.uuid4().hex}.txt"
    data = zip_bytes([*members(tiny_model(), top="tiny"), Member(member.format(name), b"x")])
    failed(api, server, data, "zip", "UNSAFE_ARCHIVE")
    assert not list(server.data_dir.parent.rglob(name))
    assert not Path("/tmp", name).exists()


def test_zip_with_a_symlink_is_unsafe(api: httpx.Client, server: LiveServer) -> None:
    data = zip_bytes([*members(tiny_model(), top="tiny"),
                      Member("tiny/vocab.txt", kind="symlink", target="/etc/passwd")])
    failed(api, server, data, "zip", "UNSAFE_ARCHIVE")


def test_gzip_bomb_is_refused(api: httpx.Client, server: LiveServer) -> None:
    # Over the default ratio of 200 even with the pipeline's 1 MiB grace for small files.
    data = gzip_bomb_tar(210 * 1024 * 1024)
    assert len(data) < 1024 * 1024
    err = failed(api, server, data, "tar.gz", "LIMIT_EXCEEDED")
    assert "zeros.safetensors" in err["msg"], err


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with tiny unpacking limits."""
    srv = LiveServer(tmp_path_factory.mktemp("limits") / "data", env={
        "WEIGHBRIDGE_MAX_UNPACKED_BYTES": "100000", "WEIGHBRIDGE_MAX_ARCHIVE_MEMBERS": "6"})
    yield srv.start()
    srv.stop()


def test_unpacking_limits_are_limit_exceeded(small_limits: LiveServer) -> None:
    key = small_limits.create_key("limits", account="limits")
    with httpx.Client(base_url=small_limits.url, headers={"X-api-key": key}, timeout=60) as api:
        big = {**tiny_model(), "vocab.txt": b"word\n" * 30_000}  # 150 kB
        failed(api, small_limits, tar_bytes(members(big, top="tiny")), "tar", "LIMIT_EXCEEDED")
        many = {**tiny_model(), **{f"extra-{i}.txt": b"x" for i in range(6)}}
        failed(api, small_limits, tar_bytes(members(many)), "tar", "LIMIT_EXCEEDED")
        many_zip = zip_bytes(members(many))
        failed(api, small_limits, many_zip, "zip", "LIMIT_EXCEEDED")
        assert succeeded(api, tar_bytes(members(tiny_model(), top="tiny")), "tar")


# --- corrupt uploads -------------------------------------------------------------------


def truncated_weights() -> bytes:
    whole = safetensors_bytes(tiny_tensors())
    return whole[:-7]


def test_truncated_safetensors_in_a_tar_names_the_file(api: httpx.Client,
                                                       server: LiveServer) -> None:
    files = {**tiny_model(), "model.safetensors": truncated_weights()}
    data = tar_bytes(members(files, top="tiny"))
    session_code = failed(api, server, data, "tar", "INVALID_MODEL")
    assert "model.safetensors" in session_code["msg"], session_code


def test_truncated_bare_safetensors_names_the_file(api: httpx.Client,
                                                   server: LiveServer) -> None:
    err = failed(api, server, truncated_weights(), "safetensors", "INVALID_MODEL",
                 fileName="weights.safetensors")
    assert "weights.safetensors" in err["msg"], err


@pytest.mark.parametrize(("what", "weights"), [
    ("huge header length", raw_safetensors({}, declared_len=2**62)),
    ("header not JSON", raw_safetensors(b"{not json!", b"")),
    ("unknown dtype", raw_safetensors(
        {"w": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)),
    ("overlapping tensors", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12)),
    ("offsets past the data", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)),
    ("length not elements x size", raw_safetensors(
        {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8)),
])
def test_invalid_safetensors_is_invalid_model(api: httpx.Client, server: LiveServer, what: str,
                                              weights: bytes) -> None:
    files = {"config.json": json_bytes(CONFIG), "model.safetensors": weights}
    err = failed(api, server, tar_bytes(members(files, top="bad")), "tar", "INVALID_MODEL")
    assert "model.safetensors" in err["msg"], (what, err)


def tar_offsets(data: bytes) -> dict[str, tuple[int, int]]:
    """member name → (header offset, data offset) in a tar made by `tar_bytes`."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: (m.offset, m.offset_data) for m in archive.getmembers()}


@pytest.mark.parametrize("member", ["tiny/model.safetensors", "tiny/config.json"])
def test_tar_cut_inside_a_member_is_corrupt(api: httpx.Client, server: LiveServer,
                                            member: str) -> None:
    whole = tar_bytes(members(tiny_model(), top="tiny"))
    cut = tar_offsets(whole)[member][1] + 30
    err = failed(api, server, whole[:cut], "tar", "CORRUPT_ARCHIVE", fileName="cut.tar")
    assert "cut.tar" in err["msg"], err


def test_tar_cut_after_a_member_without_end_marker_is_corrupt(api: httpx.Client,
                                                               server: LiveServer) -> None:
    whole = tar_bytes(members(tiny_model(), top="tiny"))
    cut = tar_offsets(whole)["tiny/tokenizer.json"][0]  # three members whole, then nothing
    failed(api, server, whole[:cut], "tar", "CORRUPT_ARCHIVE")


@pytest.mark.parametrize("seed", [1, 2])
def test_random_bytes_as_tar_are_corrupt(api: httpx.Client, server: LiveServer,
                                         seed: int) -> None:
    data = random.Random(seed).randbytes(20_000)
    failed(api, server, data, "tar", "CORRUPT_ARCHIVE", n=3)


def test_tar_with_a_damaged_header_is_corrupt(api: httpx.Client, server: LiveServer) -> None:
    data = bytearray(tar_bytes(members(tiny_model(), top="tiny")))
    header = tar_offsets(bytes(data))["tiny/config.json"][0]
    data[header + 148: header + 156] = b"garbage!"  # the header's checksum field
    failed(api, server, bytes(data), "tar", "CORRUPT_ARCHIVE")


def test_corrupt_and_truncated_gzip_are_corrupt(api: httpx.Client, server: LiveServer) -> None:
    good = hostile_tar([], compression="gz")
    failed(api, server, good[: len(good) - 40], "tar.gz", "CORRUPT_ARCHIVE")
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    failed(api, server, bytes(damaged), "tar.gz", "CORRUPT_ARCHIVE")
    failed(api, server, gzip.compress(b"not a tar inside" * 100), "tar.gz", "CORRUPT_ARCHIVE")


def test_corrupt_zip_is_corrupt(api: httpx.Client, server: LiveServer) -> None:
    good = zip_bytes(members(tiny_model(), top="tiny"))
    failed(api, server, good[: len(good) - 30], "zip", "CORRUPT_ARCHIVE")
    failed(api, server, random.Random(3).randbytes(5000), "zip", "CORRUPT_ARCHIVE")
    damaged = bytearray(zip_bytes(members(tiny_model(), top="tiny"),
                                  compression=zipfile.ZIP_STORED))
    at = damaged.index(b"\x93NUMPY") if b"\x93NUMPY" in damaged else len(damaged) // 3
    damaged[at + 40] ^= 0xFF  # a byte inside a member: its CRC no longer matches
    failed(api, server, bytes(damaged), "zip", "CORRUPT_ARCHIVE")


def test_broken_gguf_is_invalid_model_naming_the_file(api: httpx.Client,
                                                     server: LiveServer) -> None:
    err = failed(api, server, b"GGUF" + bytes(60), "gguf", "INVALID_MODEL",
                 fileName="broken.gguf")
    assert "broken.gguf" in err["msg"], err
    cut = tiny_gguf()[:-100]
    err = failed(api, server, tar_bytes(members({"cut.gguf": cut})), "tar", "INVALID_MODEL")
    assert "cut.gguf" in err["msg"], err


def test_archive_without_weights_is_invalid_model(api: httpx.Client, server: LiveServer) -> None:
    data = tar_bytes(members({"config.json": json_bytes(CONFIG), "README.md": b"hi"}))
    failed(api, server, data, "tar", "INVALID_MODEL")


def test_a_damaged_pickle_checkpoint_is_invalid_model(api: httpx.Client,
                                                     server: LiveServer) -> None:
    files = {"config.json": json_bytes(CONFIG),
             "pytorch_model.bin": b"\x80\x04\x95" + b"\0" * 64}
    err = failed(api, server, tar_bytes(members(files)), "tar", "INVALID_MODEL")
    assert "pytorch_model.bin" in err["msg"], err


def test_a_checkpoint_that_would_run_code_is_unsafe_pickle(api: httpx.Client,
                                                          server: LiveServer) -> None:
    evil = torch_zip_bytes([], data_pkl=call_pickle("os", "system", "echo pwned"))
    files = {"config.json": json_bytes(CONFIG), "pytorch_model.bin": evil}
    err = failed(api, server, tar_bytes(members(files)), "tar", "UNSAFE_PICKLE")
    assert "pytorch_model.bin" in err["msg"] and "os.system" in err["msg"], err


def test_a_plain_pytorch_checkpoint_imports_with_its_parameter_count(
        api: httpx.Client) -> None:
    files = {"config.json": json_bytes(CONFIG),
             "pytorch_model.bin": torch_zip_bytes(TINY_TORCH),
             "tokenizer.json": json_bytes({"version": "1.0"})}
    _, _, job = upload_session(api, tar_bytes(members(files, top="pt")), "tar", 1)
    assert job["status"] == "SUCCESS", job
    assert job["response"]["format"] == "pytorch"
    assert job["response"]["dtypes"] == TINY_TORCH_DTYPES
    assert job["response"]["parameterCount"] == sum(TINY_TORCH_DTYPES.values())


# --- the adapter flag ------------------------------------------------------------------


@pytest.mark.parametrize("flag", [True, "True", "true"])
def test_is_adapter_true_for_a_plain_model_is_adapter_mismatch(api: httpx.Client,
                                                               server: LiveServer,
                                                               flag: Any) -> None:
    data = tar_bytes(members(tiny_model(), top="tiny"))
    failed(api, server, data, "tar", "ADAPTER_MISMATCH", isAdapter=flag)


def test_is_adapter_true_for_a_plain_gguf_is_adapter_mismatch(api: httpx.Client,
                                                              server: LiveServer) -> None:
    failed(api, server, tiny_gguf(), "gguf", "ADAPTER_MISMATCH", isAdapter=True)


@pytest.mark.parametrize("flag", [False, "False", "false"])
def test_is_adapter_false_for_a_peft_adapter_is_adapter_mismatch(api: httpx.Client,
                                                                 server: LiveServer,
                                                                 flag: Any) -> None:
    data = tar_bytes(members(peft_adapter(), top="lora"))
    failed(api, server, data, "tar", "ADAPTER_MISMATCH", isAdapter=flag)


def test_is_adapter_matching_the_upload_succeeds(api: httpx.Client) -> None:
    assert succeeded(api, tar_bytes(members(peft_adapter())), "tar",
                     isAdapter="TRUE")["isAdapter"] is True
    assert succeeded(api, tar_bytes(members(tiny_model())), "tar",
                     isAdapter="FALSE")["isAdapter"] is False


# --- the whole-file checksum -----------------------------------------------------------


def test_sha256_given_at_start_not_matching_is_checksum_mismatch(api: httpx.Client,
                                                                 server: LiveServer) -> None:
    data = tar_bytes(members(tiny_model(), top="tiny"))
    err = failed(api, server, data, "tar", "CHECKSUM_MISMATCH", n=2,
                 sha256=sha256(data + b"x"))
    assert sha256(data) in err["msg"] or "sha256" in err["msg"].lower(), err


def test_checksum_mismatch_wins_over_a_broken_archive(api: httpx.Client,
                                                      server: LiveServer) -> None:
    data = random.Random(5).randbytes(4096)
    failed(api, server, data, "tar", "CHECKSUM_MISMATCH", sha256=sha256(b"the real file"))


def test_sha256_given_at_start_matching_succeeds(api: httpx.Client) -> None:
    data = tar_bytes(members(tiny_model(), top="tiny"))
    assert succeeded(api, data, "tar", sha256=sha256(data).upper())["sha256"] == sha256(data)
