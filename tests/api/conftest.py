"""Fixtures for the HTTP API tests: a second account, small valid models, the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import gale
from tests.builders import members, tar_bytes, tiny_model
from tests.live_server import LiveServer


@pytest.fixture(scope="module")
def other_api(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of another account on the same server."""
    key = server.create_key("other", account="other")
    with httpx.Client(base_url=server.url, headers={"X-api-key": key}, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def tiny_tar() -> bytes:
    """A small valid Hugging Face model as a tar with one top-level folder."""
    return tar_bytes(members(tiny_model(), top="tiny"))


@pytest.fixture(scope="session")
def minilm_tar(minilm_dir: Path) -> bytes:
    """The real MiniLM folder as a tar with a top-level folder (about 90 MB)."""
    return gale.tar_folder(minilm_dir, "all-MiniLM-L6-v2")
