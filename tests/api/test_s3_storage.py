"""A server whose chunks and model files live in an S3-compatible object store."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import gale
from tests.live_server import LiveServer
from weighbridge.storage.s3 import make_client


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str,
              fake_aws: dict[str, str]) -> Iterator[tuple[LiveServer, str]]:
    bucket = f"wb-{uuid.uuid4().hex[:12]}"
    make_client(s3_endpoint, "us-east-1").create_bucket(Bucket=bucket)
    srv = LiveServer(tmp_path_factory.mktemp("s3") / "data", env={
        **fake_aws, "WEIGHBRIDGE_STORAGE": "s3", "WEIGHBRIDGE_S3_BUCKET": bucket,
        "WEIGHBRIDGE_S3_ENDPOINT_URL": s3_endpoint}).start()
    yield srv, bucket
    srv.stop()


def test_the_real_model_imports_exports_and_deletes_through_s3(
        s3_server: tuple[LiveServer, str], s3_endpoint: str, minilm_dir: Path,
        minilm_tar: bytes) -> None:
    srv, bucket = s3_server
    s3 = make_client(s3_endpoint, "us-east-1")
    with httpx.Client(base_url=srv.url, headers={"X-api-key": srv.create_key("s3")},
                      timeout=120) as api:
        status = gale.upload(api, minilm_tar, "tar", 4, sha256=gale.sha256(minilm_tar))
        assert status["status"] == "SUCCESS", status
        model = status["response"]
        assert model["parameterCount"] == 22_713_728
        def keys() -> list[str]:
            return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

        # The chunks are freed just after the job reports SUCCESS.
        deadline = time.monotonic() + 30
        while any("/sessions/" in k for k in keys()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any("/sessions/" in k for k in keys())
        assert sum("/objects/sha256/" in k for k in keys()) == len(model["files"])
        assert not any((srv.data_dir / "blobs").rglob("*.safetensors"))  # nothing local

        export = gale.wait_job(api, api.post(
            f"/api/public/models/{model['modelId']}/export").json()["dockStatusId"])
        tar_bytes = api.get(export["response"]["downloadUrl"]).content
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            member = tar.extractfile(next(m for m in tar.getmembers()
                                          if m.name.endswith("/model.safetensors")))
            assert member is not None
            assert member.read() == (minilm_dir / "model.safetensors").read_bytes()

        done = gale.wait_job(api, api.delete(
            f"/api/public/models/{model['modelId']}").json()["dockStatusId"])
        assert done["status"] == "SUCCESS"
        left = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        assert left == []
