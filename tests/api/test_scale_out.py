"""Scale-out mode: two server processes sharing one PostgreSQL database and one store.

Chunks of one upload go to both servers, complete goes to one, the job runs on
whichever claims it, and both see the same sessions, jobs and models.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api import gale
from tests.live_server import LiveServer
from weighbridge.storage.s3 import make_client

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    name = f"wb_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is expected on 127.0.0.1:5432 (user postgres): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, postgres_url: str
         ) -> Iterator[tuple[LiveServer, LiveServer]]:
    data_dir: Path = tmp_path_factory.mktemp("shared") / "data"
    env = {"WEIGHBRIDGE_DATABASE_URL": postgres_url}
    a = LiveServer(data_dir, env=env).start()
    b = LiveServer(data_dir, env=env).start()
    yield a, b
    a.stop()
    b.stop()


def test_two_servers_share_one_upload_and_one_registry(
        pair: tuple[LiveServer, LiveServer], minilm_tar: bytes) -> None:
    a, b = pair
    key = a.create_key("shared", account="shared")
    headers = {"X-api-key": key}
    with httpx.Client(base_url=a.url, headers=headers, timeout=60) as api_a, \
            httpx.Client(base_url=b.url, headers=headers, timeout=60) as api_b:
        session = gale.start(api_a, minilm_tar, "tar", 6, sha256=gale.sha256(minilm_tar))
        sid = session["sessionId"]
        for i, piece in enumerate(gale.split(minilm_tar, 6)):
            r = gale.send_raw(api_a if i % 2 else api_b, sid, i, piece)
            assert r.status_code == 200, r.text
        state = api_a.get(f"/api/public/files/session/{sid}").json()
        assert state["receivedBytes"] == len(minilm_tar)
        r = gale.complete(api_b, sid)
        assert r.status_code == 200, r.text
        assert gale.complete(api_a, sid).json()["dockStatusId"] == r.json()["dockStatusId"]
        status = gale.wait_job(api_a, r.json()["dockStatusId"])
        assert status["status"] == "SUCCESS", status
        model = status["response"]
        assert model["parameterCount"] == 22_713_728
        assert model["sha256"] == gale.sha256(minilm_tar)
        assert api_b.get(f"/api/public/models/{model['modelId']}").json() == model

        export = api_b.post(f"/api/public/models/{model['modelId']}/export").json()
        done = gale.wait_job(api_a, export["dockStatusId"])
        assert done["status"] == "SUCCESS", done
        tar = api_a.get(done["response"]["downloadUrl"].replace(b.url, a.url))
        assert tar.status_code == 200 and len(tar.content) == done["response"]["sizeBytes"]


def test_two_servers_without_a_shared_disk_share_postgres_and_s3(
        tmp_path: Path, postgres_url: str, s3_endpoint: str, fake_aws: dict[str, str],
        minilm_tar: bytes) -> None:
    bucket = f"wb-{uuid.uuid4().hex[:12]}"
    make_client(s3_endpoint, "us-east-1").create_bucket(Bucket=bucket)
    env = {**fake_aws, "WEIGHBRIDGE_DATABASE_URL": postgres_url, "WEIGHBRIDGE_STORAGE": "s3",
           "WEIGHBRIDGE_S3_BUCKET": bucket, "WEIGHBRIDGE_S3_ENDPOINT_URL": s3_endpoint}
    a = LiveServer(tmp_path / "host-a" / "data", env=env).start()
    b = LiveServer(tmp_path / "host-b" / "data", env=env).start()
    try:
        headers = {"X-api-key": a.create_key("s3-pair", account="s3-pair")}
        with httpx.Client(base_url=a.url, headers=headers, timeout=60) as api_a, \
                httpx.Client(base_url=b.url, headers=headers, timeout=60) as api_b:
            sid = gale.start(api_b, minilm_tar, "tar", 4)["sessionId"]
            for i, piece in enumerate(gale.split(minilm_tar, 4)):
                assert gale.send_raw(api_a if i % 2 else api_b, sid, i, piece).status_code == 200
            status = gale.wait_job(api_b, gale.complete(api_a, sid).json()["dockStatusId"])
            assert status["status"] == "SUCCESS", status
            model_id = status["response"]["modelId"]
            export = gale.wait_job(api_a, api_b.post(
                f"/api/public/models/{model_id}/export").json()["dockStatusId"])
            url = export["response"]["downloadUrl"]
            via_a = api_a.get(url.replace(b.url, a.url)).content
            via_b = api_b.get(url.replace(a.url, b.url)).content
            assert via_a == via_b and len(via_a) == export["response"]["sizeBytes"]
    finally:
        a.stop()
        b.stop()
