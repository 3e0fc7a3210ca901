"""POST /api/public/files/session/start and GET /api/public/limits (DESIGN §2.1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    ISO_MS_RE,
    MODEL_ID_RE,
    UUID_RE,
    error,
    post_start,
    session_state,
    start_body,
)

TiB = 1024**4
REQUIRED = ("fileContext", "totalChunks", "fileExtension", "fileName", "fileSize")


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_start_answers_session_id_expiration_and_model_id(api: httpx.Client) -> None:
    before = datetime.now(UTC)
    body = ok(post_start(api, start_body(size=1000, n=4)))
    assert isinstance(body["sessionId"], str) and UUID_RE.match(body["sessionId"]), body
    assert isinstance(body["modelId"], str) and MODEL_ID_RE.match(body["modelId"]), body
    assert isinstance(body["expirationDate"], str) and ISO_MS_RE.match(body["expirationDate"])
    expires = datetime.strptime(body["expirationDate"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC)
    # Default lifetime is 24 h after start.
    assert before + timedelta(hours=23) < expires <= before + timedelta(hours=24, minutes=5)


def test_each_start_opens_a_new_session_and_model_id(api: httpx.Client) -> None:
    a = ok(post_start(api, start_body()))
    b = ok(post_start(api, start_body()))
    assert a["sessionId"] != b["sessionId"]
    assert a["modelId"] != b["modelId"]


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_required_field_is_400_naming_it(api: httpx.Client, field: str) -> None:
    body = start_body()
    del body[field]
    err = error(post_start(api, body), 400)
    assert field in err["msg"], err


@pytest.mark.parametrize(("field", "value"), [
    ("totalChunks", "3"),
    ("totalChunks", "three"),
    ("totalChunks", 1.5),
    ("totalChunks", True),
    ("totalChunks", None),
    ("fileSize", "100"),
    ("fileSize", [100]),
    ("fileSize", False),
    ("fileName", 123),
    ("fileName", ["model.tar"]),
    ("fileExtension", 7),
    ("fileContext", {"kind": "model"}),
    ("isAdapter", "maybe"),
    ("isAdapter", "yes"),
    ("isAdapter", "1"),
    ("isAdapter", 1),
    ("isAdapter", 0),
    ("isAdapter", [True]),
    ("chunkSize", "100"),
    ("sha256", 5),
])
def test_wrong_type_is_400_naming_the_field(api: httpx.Client, field: str, value: Any) -> None:
    err = error(post_start(api, start_body(**{field: value})), 400)
    assert field in err["msg"], err


@pytest.mark.parametrize("size", [0, -1, -(2**40)])
def test_file_size_below_one_is_400(api: httpx.Client, size: int) -> None:
    err = error(post_start(api, start_body(size=size)), 400)
    assert "fileSize" in err["msg"], err


def test_file_size_over_the_limit_is_413(api: httpx.Client) -> None:
    err = error(post_start(api, start_body(size=TiB + 1, n=10_000)), 413)
    assert err["code"] == "TOO_LARGE"


def test_file_size_at_the_limit_is_accepted(api: httpx.Client) -> None:
    ok(post_start(api, start_body(size=TiB, n=10_000)))


@pytest.mark.parametrize("n", [0, -1, 10_001])
def test_total_chunks_out_of_range_is_400(api: httpx.Client, n: int) -> None:
    err = error(post_start(api, start_body(size=100_000, n=n)), 400)
    assert "totalChunks" in err["msg"], err


@pytest.mark.parametrize("n", [1, 10_000])
def test_total_chunks_at_the_bounds_is_accepted(api: httpx.Client, n: int) -> None:
    body = ok(post_start(api, start_body(size=100_000, n=n)))
    assert session_state(api, body["sessionId"])["totalChunks"] == n


def test_more_chunks_than_bytes_is_400(api: httpx.Client) -> None:
    error(post_start(api, start_body(size=3, n=4)), 400)


@pytest.mark.parametrize("name", [
    "dir/model.tar", "/model.tar", "../model.tar", "..", ".", "a\\b.tar", "model\0.tar", "",
    "x" * 252 + ".tar",  # 256 bytes
    "é" * 126 + ".tar",  # 256 bytes in UTF-8, 130 characters
])
def test_bad_file_name_is_400(api: httpx.Client, name: str) -> None:
    err = error(post_start(api, start_body(fileName=name)), 400)
    assert "fileName" in err["msg"], err


def test_file_name_of_255_bytes_is_accepted(api: httpx.Client) -> None:
    ok(post_start(api, start_body(fileName="x" * 251 + ".tar")))


@pytest.mark.parametrize("ext", ["exe", "", "pt", "bin", "tar.bz2", "safetensor", "tar.gz.zip"])
def test_unknown_file_extension_is_400(api: httpx.Client, ext: str) -> None:
    err = error(post_start(api, start_body(fileExtension=ext)), 400)
    assert "fileExtension" in err["msg"], err


@pytest.mark.parametrize(("ext", "stored"), [
    ("tar", "tar"), (".TAR", "tar"), ("tar.gz", "tar.gz"), ("TGZ", "tar.gz"),
    (".Tar.Gz", "tar.gz"), ("zip", "zip"), ("SafeTensors", "safetensors"), (".gguf", "gguf"),
])
def test_known_file_extensions_are_accepted_in_any_case(api: httpx.Client, ext: str,
                                                        stored: str) -> None:
    body = ok(post_start(api, start_body(fileExtension=ext)))
    assert session_state(api, body["sessionId"])["fileExtension"] == stored


@pytest.mark.parametrize("flag", ["True", "False", "true", "false", "TRUE", "fAlSe", True, False])
def test_is_adapter_accepts_booleans_and_their_strings(api: httpx.Client, flag: Any) -> None:
    ok(post_start(api, start_body(isAdapter=flag)))


def test_unknown_file_context_is_400(api: httpx.Client) -> None:
    err = error(post_start(api, start_body(fileContext="")), 400)
    assert "fileContext" in err["msg"], err


@pytest.mark.parametrize(("size", "n", "chunk_size"), [
    (100, 3, 10),    # 3 × 10 < 100: the chunks cannot hold the file
    (100, 3, 50),    # 2 × 50 = 100: the last chunk would be empty
    (100, 3, 0),
    (100, 3, -34),
    (100, 1, 99),    # one chunk must hold the whole file
])
def test_chunk_size_inconsistent_with_file_size_is_400(api: httpx.Client, size: int, n: int,
                                                       chunk_size: int) -> None:
    err = error(post_start(api, start_body(size=size, n=n, chunkSize=chunk_size)), 400)
    assert "chunkSize" in err["msg"], err


@pytest.mark.parametrize(("size", "n", "chunk_size"), [(100, 3, 34), (100, 3, 49), (100, 1, 100),
                                                        (100, 1, 4096), (100, 4, 25)])
def test_chunk_size_consistent_with_file_size_is_accepted(api: httpx.Client, size: int, n: int,
                                                          chunk_size: int) -> None:
    body = ok(post_start(api, start_body(size=size, n=n, chunkSize=chunk_size)))
    assert session_state(api, body["sessionId"])["chunkSize"] == chunk_size


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "0" * 63, "0" * 65])
def test_malformed_sha256_is_400(api: httpx.Client, digest: str) -> None:
    err = error(post_start(api, start_body(sha256=digest)), 400)
    assert "sha256" in err["msg"], err


def test_sha256_in_upper_case_is_accepted(api: httpx.Client) -> None:
    ok(post_start(api, start_body(sha256="AB" * 32)))


def test_idempotency_key_returns_the_same_session(api: httpx.Client) -> None:
    key = f"test-{uuid.uuid4()}"
    first = ok(post_start(api, start_body(size=500, n=2), **{"Idempotency-Key": key}))
    again = ok(post_start(api, start_body(size=500, n=2), **{"Idempotency-Key": key}))
    assert again["sessionId"] == first["sessionId"]
    assert again["modelId"] == first["modelId"]
    other = ok(post_start(api, start_body(size=500, n=2),
                          **{"Idempotency-Key": f"test-{uuid.uuid4()}"}))
    assert other["sessionId"] != first["sessionId"]


def test_idempotency_keys_are_per_account(api: httpx.Client, other_api: httpx.Client) -> None:
    key = f"test-{uuid.uuid4()}"
    mine = ok(post_start(api, start_body(), **{"Idempotency-Key": key}))
    theirs = ok(post_start(other_api, start_body(), **{"Idempotency-Key": key}))
    assert theirs["sessionId"] != mine["sessionId"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"model"', b"null"])
def test_body_that_is_not_a_json_object_is_400(api: httpx.Client, raw: bytes) -> None:
    r = api.post("/api/public/files/session/start", content=raw,
                 headers={"Content-Type": "application/json"})
    error(r, 400)


def test_limits_tell_clients_the_server_limits(api: httpx.Client) -> None:
    r = api.get("/api/public/limits")
    assert r.status_code == 200, r.text
    limits = r.json()
    assert limits["maxFileSize"] == TiB
    assert limits["maxChunks"] == 10_000
    for field in ("minChunkSize", "maxChunkSize", "sessionLifetimeSeconds"):
        assert isinstance(limits[field], int) and limits[field] >= 1, limits
    assert limits["sessionLifetimeSeconds"] == 24 * 3600
