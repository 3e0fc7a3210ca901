"""The real all-MiniLM-L6-v2 model imported through every accepted form (DESIGN §2, §6).

Each form is uploaded once per module (module-scoped, parametrized fixture) and the
tests below read the finished job and the registry for it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.gale import (
    DOCK_ID_RE,
    ISO_MS_RE,
    JOB_WAIT_SECONDS,
    complete,
    send,
    sha256,
    split,
    start,
)
from tests.live_server import LiveServer

WEIGHTS = "model.safetensors"
WEIGHTS_SIZE = 90_868_376
PARAMETERS = 22_713_728
DTYPES = {"F32": 22_713_216, "I64": 512}
TOP = "all-MiniLM-L6-v2"
CHUNKS = 8

# form id → (file extension, chunk form)
FORMS = {
    "tar-multipart": ("tar", "multipart"),
    "tar-raw": ("tar", "raw"),
    "tar.gz-raw": ("tar.gz", "raw"),
    "zip-multipart": ("zip", "multipart"),
    "safetensors-raw": ("safetensors", "raw"),
}


def folder_files(folder: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[path.relative_to(folder).as_posix()] = (
                path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def zip_folder(folder: Path, top: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for path in sorted(folder.rglob("*")):
            z.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return buf.getvalue()


@dataclass
class Imported:
    form: str
    ext: str
    data_sha256: str
    file_name: str
    start: dict[str, Any]
    complete: dict[str, Any]
    job: dict[str, Any]
    observed: list[dict[str, Any]]  # every dock status seen while polling


def wait_observed(api: httpx.Client, dock_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while time.monotonic() < deadline:
        r = api.get(f"/api/public/dock-status/{dock_id}")
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if seen[-1]["status"] != "IN_PROGRESS":
            return seen[-1], seen
        time.sleep(0.05)
    raise AssertionError(f"job {dock_id} still IN_PROGRESS after {JOB_WAIT_SECONDS}s")


@pytest.fixture(scope="module", params=list(FORMS))
def imported(request: pytest.FixtureRequest, server: LiveServer, api_key: str,
             minilm_dir: Path, minilm_tar: bytes) -> Imported:
    form: str = request.param
    ext, chunk_form = FORMS[form]
    if ext == "tar":
        data = minilm_tar
    elif ext == "tar.gz":
        data = gzip.compress(minilm_tar, compresslevel=1)
    elif ext == "zip":
        data = zip_folder(minilm_dir, TOP)
    else:
        data = (minilm_dir / WEIGHTS).read_bytes()
    file_name = f"{TOP}.{ext}" if ext != "safetensors" else WEIGHTS
    with httpx.Client(base_url=server.url, headers={"X-api-key": api_key}, timeout=120) as api:
        session = start(api, data, ext, CHUNKS, fileName=file_name)
        for i, piece in enumerate(split(data, CHUNKS)):
            r = send(api, session["sessionId"], i, piece, chunk_form)
            assert r.status_code == 200, r.text
        r = complete(api, session["sessionId"])
        assert r.status_code == 200, r.text
        job, observed = wait_observed(api, r.json()["dockStatusId"])
    return Imported(form, ext, sha256(data), file_name, session, r.json(), job, observed)


@pytest.fixture(scope="session")
def minilm_files(minilm_dir: Path) -> dict[str, tuple[int, str]]:
    return folder_files(minilm_dir)


def test_job_succeeds(imported: Imported) -> None:
    assert imported.job["status"] == "SUCCESS", imported.job
    assert imported.job["percentageComplete"] == 100


def test_complete_answers_both_dock_status_spellings(imported: Imported) -> None:
    done = imported.complete
    assert done["dock-statusId"] == done["dockStatusId"]
    assert DOCK_ID_RE.match(done["dockStatusId"])
    assert done["modelId"] == imported.start["modelId"]
    assert (done["jobType"], done["action"], done["status"]) == ("MODELS", "IMPORT",
                                                                 "IN_PROGRESS")


def test_dock_status_while_running_and_at_the_end(imported: Imported) -> None:
    job = imported.job
    assert job["_id"] == imported.complete["dockStatusId"]
    assert job["modelId"] == imported.start["modelId"]
    assert (job["jobType"], job["action"]) == ("MODELS", "IMPORT")
    assert ISO_MS_RE.match(job["createdOn"]) and ISO_MS_RE.match(job["updatedOn"])
    percentages = [s["percentageComplete"] for s in imported.observed]
    assert all(type(p) is int and 0 <= p <= 100 for p in percentages), percentages
    assert percentages == sorted(percentages), f"progress went backwards: {percentages}"
    assert all(s["status"] == "IN_PROGRESS" for s in imported.observed[:-1])
    assert all(s["percentageComplete"] < 100 for s in imported.observed[:-1]), percentages


def test_model_record(imported: Imported, minilm_files: dict[str, tuple[int, str]]) -> None:
    record = imported.job["response"]
    assert record["_id"] == record["modelId"] == imported.start["modelId"]
    assert record["status"] == "READY"
    assert record["isAdapter"] is False and record["baseModel"] is None
    assert record["parameterCount"] == PARAMETERS
    assert record["dtypes"] == DTYPES
    assert record["format"] == "safetensors"
    assert record["sha256"] == imported.data_sha256
    assert ISO_MS_RE.match(record["createdOn"])
    files = {f["path"]: (f["size"], f["sha256"]) for f in record["files"]}
    assert files[WEIGHTS] == minilm_files[WEIGHTS]
    assert files[WEIGHTS][0] == WEIGHTS_SIZE
    assert record["sizeBytes"] == sum(size for size, _ in files.values())
    if imported.ext == "safetensors":
        assert record["name"] == "model"
        assert list(files) == [WEIGHTS]
        assert record["architecture"] is None and record["modelType"] is None
        assert any("config.json" in w for w in record["warnings"]), record["warnings"]
    else:
        assert record["name"] == TOP
        assert files == minilm_files  # every file, with the top-level folder stripped
        assert record["architecture"] == "BertModel"
        assert record["modelType"] == "bert"
        assert not any("tokenizer" in w.lower() for w in record["warnings"]), record["warnings"]


def test_registry_has_the_model(imported: Imported, api: httpx.Client) -> None:
    model_id = imported.start["modelId"]
    r = api.get(f"/api/public/models/{model_id}")
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["_id"] == model_id and record["modelId"] == model_id
    assert record == imported.job["response"]
    r = api.get("/api/public/models", params={"limit": 500})
    assert r.status_code == 200, r.text
    listed = {m["modelId"]: m for m in r.json()["models"]}
    assert listed[model_id] == record


def test_session_is_completed_and_points_at_the_job(imported: Imported,
                                                    api: httpx.Client) -> None:
    r = api.get(f"/api/public/files/session/{imported.start['sessionId']}")
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["status"] == "COMPLETED"
    assert state["dockStatusId"] == imported.complete["dockStatusId"]
