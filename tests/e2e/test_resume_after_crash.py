"""Issue 3 item 5 through the SDK: the server is SIGKILLed while a ~200 MB upload is in
flight, started again on the same data dir, and the same import resumes: only the
missing chunks are sent, and the model's sha256 is the source file's."""

from __future__ import annotations

import hashlib
import json
import random
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer
from weighbridge import ApiError, Client, ImportFailed, RetryPolicy, TransportError

MiB = 1024 * 1024
WEIGHTS_BYTES = 200 * MiB
CHUNK_BYTES = 4 * MiB
KILL_AT_FRACTION = 0.4
JOB_TIMEOUT_SECONDS = 300.0


def write_safetensors(path: Path, n: int) -> str:
    """A valid safetensors file with one U8 tensor of `n` bytes; returns its sha256."""
    header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    digest = hashlib.sha256()
    rng = random.Random(5)
    with open(path, "wb") as fh:
        for piece in (struct.pack("<Q", len(header)), header):
            fh.write(piece)
            digest.update(piece)
        left = n
        while left:
            piece = rng.randbytes(min(MiB, left))
            fh.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


class CountingTransport(httpx.HTTPTransport):
    """The real transport, remembering which chunk numbers were posted."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and "chunkNumber" in request.url.params:
            self.chunks.append(int(request.url.params["chunkNumber"]))
        return super().handle_request(request)


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "data")
    yield srv.start()
    srv.stop()


def test_an_import_resumes_after_the_server_is_killed(
    crashable: LiveServer, tmp_path: Path
) -> None:
    weights = tmp_path / "big.safetensors"
    source_sha256 = write_safetensors(weights, WEIGHTS_BYTES)
    key = crashable.create_key("crash", account="crash")
    state = tmp_path / "state"
    killed = threading.Event()

    def kill_at_40_percent(done: int, total: int) -> None:
        if done >= KILL_AT_FRACTION * total and not killed.is_set():
            killed.set()
            crashable.kill()

    # Few, short retries: the server stays down until the test starts it again.
    impatient = RetryPolicy(max_attempts=2, base_delay_seconds=0.05)
    with (
        Client(crashable.url, key, retry=impatient, state_dir=state) as client,
        pytest.raises((TransportError, ApiError)),
    ):
        client.import_model(
            weights, chunk_size=CHUNK_BYTES, progress=kill_at_40_percent, wait=False
        )
    assert killed.is_set()

    crashable.start()
    counting = CountingTransport()
    first_report: list[int] = []
    with Client(crashable.url, key, state_dir=state, http_transport=counting) as client:
        outcome = client.import_model(
            weights,
            chunk_size=CHUNK_BYTES,
            wait=False,
            progress=lambda done, _: first_report.append(done) if not first_report else None,
        )
        try:
            final = client.wait_for_job(
                outcome.dock_status_id, poll_interval=0.5, timeout=JOB_TIMEOUT_SECONDS
            )
        except ImportFailed as exc:
            pytest.fail(f"{exc}\n--- server log ---\n{crashable.log()[-4000:]}")
        model = client.get_model(str(final["modelId"]))

    total = outcome.total_chunks
    assert 0 < outcome.resumed_chunks < total
    # Only what was missing went over the wire again, each chunk once.
    assert len(counting.chunks) == len(set(counting.chunks)) == total - outcome.resumed_chunks
    assert first_report == [outcome.resumed_chunks * CHUNK_BYTES]  # the bar starts there
    assert final["status"] == "SUCCESS"
    assert outcome.sha256 == model["sha256"] == source_sha256
    assert model["parameterCount"] == WEIGHTS_BYTES
