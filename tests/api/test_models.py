"""GET /api/public/models and /api/public/models/{modelId}: the registry (DESIGN §2.6)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    ISO_MS_RE,
    MODEL_ID_RE,
    error,
    get_model,
    sha256,
    upload_session,
)
from tests.builders import (
    TINY_DTYPES,
    members,
    peft_adapter,
    tar_bytes,
    tiny_model,
    zip_bytes,
)
from tests.builders.gguf_files import TINY_GGUF_DTYPES, tiny_gguf
from tests.live_server import LiveServer

RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "_id": str, "modelId": str, "name": str, "status": str, "isAdapter": bool,
    "baseModel": (str, type(None)), "format": str, "architecture": (str, type(None)),
    "modelType": (str, type(None)), "parameterCount": int, "dtypes": dict, "sizeBytes": int,
    "sha256": str, "files": list, "warnings": list, "createdOn": str,
}


def check_record_shape(record: dict[str, Any]) -> None:
    for field, kind in RECORD_TYPES.items():
        assert field in record, (field, record)
        assert isinstance(record[field], kind), (field, record[field])
    assert type(record["parameterCount"]) is int and type(record["sizeBytes"]) is int
    assert record["_id"] == record["modelId"] and MODEL_ID_RE.match(record["_id"])
    assert all(isinstance(k, str) and type(v) is int for k, v in record["dtypes"].items())
    for f in record["files"]:
        assert set(f) == {"path", "size", "sha256"}, f
        assert isinstance(f["path"], str) and type(f["size"]) is int
        assert isinstance(f["sha256"], str) and len(f["sha256"]) == 64
    assert all(isinstance(w, str) and w for w in record["warnings"])
    assert ISO_MS_RE.match(record["createdOn"])


def expected_files(files: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    return {name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}


def files_of(record: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {f["path"]: (f["size"], f["sha256"]) for f in record["files"]}


@pytest.mark.parametrize(("layout", "ext"), [("top-folder", "tar"), ("flat", "tar"),
                                             ("top-folder", "tar.gz"), ("flat", "zip")])
def test_imported_tiny_model_record(api: httpx.Client, layout: str, ext: str) -> None:
    files = tiny_model()
    items = members(files, top="tiny" if layout == "top-folder" else None)
    data = (zip_bytes(items) if ext == "zip"
            else tar_bytes(items, "gz" if ext == "tar.gz" else ""))
    session, _, job = upload_session(api, data, ext, 2, fileName=f"my-tiny.{ext}")
    assert job["status"] == "SUCCESS", job
    record = get_model(api, session["modelId"])
    check_record_shape(record)
    assert record["modelId"] == session["modelId"]
    assert record["name"] == "my-tiny"
    assert record["status"] == "READY"
    assert record["isAdapter"] is False and record["baseModel"] is None
    assert record["format"] == "safetensors"
    assert record["architecture"] == "TinyForTesting"
    assert record["modelType"] == "tiny"
    assert record["dtypes"] == TINY_DTYPES
    assert record["parameterCount"] == sum(TINY_DTYPES.values())
    assert record["sha256"] == sha256(data)
    assert files_of(record) == expected_files(files)  # the top folder is stripped
    assert record["sizeBytes"] == sum(len(d) for d in files.values())


@pytest.mark.parametrize("packing", ["bare", "tar"])
def test_imported_gguf_record(api: httpx.Client, packing: str) -> None:
    weights = tiny_gguf("qwen2")
    if packing == "bare":
        data, ext, file_name = weights, "gguf", "tiny-q4.gguf"
    else:
        data, ext, file_name = tar_bytes(members({"tiny-q4.gguf": weights}, top="q")), "tar", \
            "tiny-q4.tar"
    session, _, job = upload_session(api, data, ext, 3, fileName=file_name)
    assert job["status"] == "SUCCESS", job
    record = get_model(api, session["modelId"])
    check_record_shape(record)
    assert record["name"] == "tiny-q4"
    assert record["format"] == "gguf"
    assert record["architecture"] == "qwen2"
    assert record["isAdapter"] is False
    assert record["dtypes"] == TINY_GGUF_DTYPES
    assert record["parameterCount"] == sum(TINY_GGUF_DTYPES.values())
    assert record["sha256"] == sha256(data)
    assert files_of(record) == expected_files({"tiny-q4.gguf": weights})


def test_name_given_at_start_wins_over_the_file_name(api: httpx.Client, tiny_tar: bytes) -> None:
    session, _, job = upload_session(api, tiny_tar, "tar", 1, name="Friendly name")
    assert job["status"] == "SUCCESS", job
    assert get_model(api, session["modelId"])["name"] == "Friendly name"


def test_missing_config_and_tokenizer_are_warnings(api: httpx.Client) -> None:
    files = tiny_model(config=None, tokenizer=False)
    session, _, job = upload_session(api, tar_bytes(members(files)), "tar", 1)
    assert job["status"] == "SUCCESS", job
    record = get_model(api, session["modelId"])
    assert record["architecture"] is None and record["modelType"] is None
    warnings = " ".join(record["warnings"])
    assert "config.json" in warnings and "tokenizer" in warnings, record["warnings"]


def test_peft_adapter_record(api: httpx.Client) -> None:
    files = peft_adapter(r=4)
    session, _, job = upload_session(api, tar_bytes(members(files, top="lora")), "tar", 1,
                                     isAdapter=True)
    assert job["status"] == "SUCCESS", job
    record = get_model(api, session["modelId"])
    check_record_shape(record)
    assert record["isAdapter"] is True
    assert record["baseModel"] == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert record["format"] == "safetensors"
    # lora_tensors(4): two modules, each A (4×8) and B (8×4) in F32.
    assert record["dtypes"] == {"F32": 2 * (4 * 8 + 8 * 4)}
    assert record["parameterCount"] == 128
    assert files_of(record) == expected_files(files)
    assert record["adapter"] == {"peftType": "LORA", "taskType": "CAUSAL_LM", "rank": 4,
                                 "alpha": 16, "targetModules": ["q_proj", "v_proj"],
                                 "baseModel": "TinyLlama/TinyLlama-1.1B-Chat-v1.0"}


def test_base_model_given_at_start_wins_for_an_adapter(api: httpx.Client) -> None:
    data = tar_bytes(members(peft_adapter(r=4)))
    session, _, job = upload_session(api, data, "tar", 1, isAdapter="True",
                                     baseModel="cm-my-own-base")
    assert job["status"] == "SUCCESS", job
    assert get_model(api, session["modelId"])["baseModel"] == "cm-my-own-base"


def test_models_list_is_paginated(server: LiveServer) -> None:
    key = server.create_key("pages", account="pages")
    with httpx.Client(base_url=server.url, headers={"X-api-key": key}, timeout=60) as api:
        r = api.get("/api/public/models")
        assert r.status_code == 200, r.text
        assert r.json()["models"] == [] and r.json()["total"] == 0
        ids = set()
        for i in range(3):
            data = tar_bytes(members(tiny_model(), top=f"m{i}"))
            session, _, job = upload_session(api, data, "tar", 1)
            assert job["status"] == "SUCCESS", job
            ids.add(session["modelId"])
        pages = []
        for offset in (0, 2, 4):
            r = api.get("/api/public/models", params={"limit": 2, "offset": offset})
            assert r.status_code == 200, r.text
            page = r.json()
            assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == offset
            for record in page["models"]:
                check_record_shape(record)
            pages.append([m["modelId"] for m in page["models"]])
        assert [len(p) for p in pages] == [2, 1, 0]
        assert set(pages[0] + pages[1]) == ids and len(pages[0] + pages[1]) == 3
        listed = api.get("/api/public/models").json()["models"]
        assert {m["modelId"] for m in listed} == ids
        assert listed[0] == get_model(api, listed[0]["modelId"])


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": -1}, {"limit": "x"},
                                    {"offset": -1}, {"offset": "y"}])
def test_bad_pagination_is_400(api: httpx.Client, params: dict[str, Any]) -> None:
    error(api.get("/api/public/models", params=params), 400)


@pytest.mark.parametrize("model_id", ["cm-00000000-0000-4000-8000-000000000000", "cm-x",
                                      "ds-00000000-0000-4000-8000-000000000000"])
def test_unknown_model_is_404(api: httpx.Client, model_id: str) -> None:
    error(api.get(f"/api/public/models/{model_id}"), 404, "NOT_FOUND")


def test_model_of_a_failed_import_does_not_exist(api: httpx.Client) -> None:
    bad = tar_bytes(members({"model.safetensors": b"\x00" * 16}))
    session, _, job = upload_session(api, bad, "tar", 1)
    assert job["status"] == "FAILED", job
    error(api.get(f"/api/public/models/{session['modelId']}"), 404, "NOT_FOUND")
    listed = api.get("/api/public/models", params={"limit": 500}).json()["models"]
    assert session["modelId"] not in {m["modelId"] for m in listed}
