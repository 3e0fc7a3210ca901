"""The resumable download: exact bytes after drops, Range/If-Range resume across runs, a
changed body restarting from zero, and nothing but a whole file ever put in place."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from tests.unit.client.fake_download import FakeDownload
from weighbridge.client.download import (
    PIECE_SIZE,
    DownloadResult,
    ProgressCallback,
    download_file,
    part_path,
)
from weighbridge.client.errors import ApiError, DownloadError, LocalInputError, TransportError
from weighbridge.client.resume import DownloadStore
from weighbridge.client.transport import RetryPolicy, Transport

MiB = 1024 * 1024
URL = "http://wb.test/api/public/exports/ds-1/download"


def _body(size: int = 3 * MiB + 5, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _get(
    server: FakeDownload,
    tmp_path: Path,
    *,
    attempts: int = 4,
    resume: bool = True,
    expected: int | None = -1,
    progress: list[tuple[int, int]] | None = None,
    sleeps: list[float] | None = None,
    target: Path | None = None,
    crash: ProgressCallback | None = None,
) -> DownloadResult:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    transport = Transport(
        "http://wb.test",
        "key",
        timeout=5,
        retry=RetryPolicy(max_attempts=attempts, sleep=sleep),
        http_transport=server.transport(),
    )
    try:
        return download_file(
            transport,
            URL,
            target or tmp_path / "model.tar",
            store=DownloadStore(tmp_path / "state"),
            key="k",
            expected_size=len(server.body) if expected == -1 else expected,
            resume=resume,
            progress=crash
            or ((lambda d, t: progress.append((d, t))) if progress is not None else None),
        )
    finally:
        transport.close()


def test_a_download_streams_into_place_in_bounded_pieces(tmp_path: Path) -> None:
    server = FakeDownload(_body())
    progress: list[tuple[int, int]] = []
    result = _get(server, tmp_path, progress=progress)
    assert (tmp_path / "model.tar").read_bytes() == server.body
    assert (result.size, result.resumed_bytes) == (len(server.body), 0)
    assert not part_path(tmp_path / "model.tar").exists()
    steps = [b[0] - a[0] for a, b in itertools.pairwise(progress)]
    assert len(steps) >= 3 and max(steps) < 2 * PIECE_SIZE  # as it comes, not at the end
    assert progress[-1] == (len(server.body), len(server.body))
    assert server.requests[0].headers["X-api-key"] == "key"
    assert "Range" not in server.requests[0].headers
    assert not list((tmp_path / "state" / "downloads").glob("*.json"))  # nothing to resume


def test_a_drop_mid_body_resumes_with_range_and_gives_the_exact_bytes(tmp_path: Path) -> None:
    server = FakeDownload(_body(), drops=[MiB + 123, MiB])
    result = _get(server, tmp_path)
    assert (tmp_path / "model.tar").read_bytes() == server.body
    _first, second, third = server.requests
    assert second.headers["Range"] == f"bytes={MiB + 123}-"
    assert second.headers["If-Range"] == server.etag and second.status == 206
    assert third.headers["Range"] == f"bytes={2 * MiB + 123}-"
    assert result.resumed_bytes == 0  # nothing came from an earlier run
    assert sum(r.body_bytes for r in server.requests) == len(server.body)  # nothing twice


def test_an_interrupted_download_is_resumed_by_the_next_run(tmp_path: Path) -> None:
    server = FakeDownload(_body(), drops=[2 * MiB, 0])
    with pytest.raises(TransportError) as err:
        _get(server, tmp_path, attempts=2)
    assert "run the same command again" in err.value.msg
    assert not (tmp_path / "model.tar").exists()
    assert part_path(tmp_path / "model.tar").stat().st_size == 2 * MiB

    progress: list[tuple[int, int]] = []
    result = _get(server, tmp_path, progress=progress)
    assert server.requests[-1].headers["Range"] == f"bytes={2 * MiB}-"
    assert progress[0] == (2 * MiB, len(server.body))  # the bar starts at the bytes kept
    assert result.resumed_bytes == 2 * MiB
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_a_changed_body_restarts_from_zero(tmp_path: Path) -> None:
    server = FakeDownload(_body(seed=1), drops=[2 * MiB, 0])
    with pytest.raises(TransportError):
        _get(server, tmp_path, attempts=2)
    server.body = _body(seed=2)  # same size, new contents and ETag: If-Range must not match
    result = _get(server, tmp_path)
    last = server.requests[-1]
    assert last.headers["If-Range"] != server.etag and last.status == 200
    assert result.resumed_bytes == 0
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_a_206_of_another_version_is_never_spliced_in(tmp_path: Path) -> None:
    server = FakeDownload(_body(seed=1), drops=[MiB])
    with pytest.raises(TransportError):
        _get(server, tmp_path, attempts=1)
    server.body = _body(seed=2)
    server.ignore_if_range = True  # broken: answers 206 (with its new ETag) all the same
    _get(server, tmp_path)
    assert [r.status for r in server.requests[-2:]] == [206, 200]
    assert "Range" not in server.requests[-1].headers
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_a_short_body_is_never_renamed_into_place(tmp_path: Path) -> None:
    server = FakeDownload(_body(), shorts=[MiB, 0, 0])
    with pytest.raises(TransportError) as err:
        _get(server, tmp_path, attempts=3)
    assert "ended after" in str(err.value.__cause__)
    assert not (tmp_path / "model.tar").exists()
    assert part_path(tmp_path / "model.tar").stat().st_size == MiB  # kept, to resume


def test_a_body_longer_than_announced_is_discarded(tmp_path: Path) -> None:
    server = FakeDownload(_body(MiB))
    with pytest.raises(DownloadError) as err:
        _get(server, tmp_path, expected=MiB - 1)
    assert err.value.code == "SIZE_MISMATCH"
    assert not (tmp_path / "model.tar").exists()
    assert not part_path(tmp_path / "model.tar").exists()


def test_a_part_without_saved_state_is_not_trusted(tmp_path: Path) -> None:
    server = FakeDownload(_body(MiB))
    part_path(tmp_path / "model.tar").write_bytes(b"x" * 1000)
    _get(server, tmp_path)
    assert "Range" not in server.requests[0].headers
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_no_resume_downloads_afresh(tmp_path: Path) -> None:
    server = FakeDownload(_body(), drops=[MiB])
    with pytest.raises(TransportError):
        _get(server, tmp_path, attempts=1)
    result = _get(server, tmp_path, resume=False)
    assert "Range" not in server.requests[-1].headers and result.resumed_bytes == 0
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_a_drop_after_the_last_byte_needs_no_other_request(tmp_path: Path) -> None:
    server = FakeDownload(_body(MiB), drops=[MiB])
    _get(server, tmp_path)
    assert len(server.requests) == 1
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_a_whole_part_is_confirmed_with_its_last_byte(tmp_path: Path) -> None:
    # A crash after the last byte but before the rename: ask for one byte, not for none.
    server = FakeDownload(_body(MiB))

    def crash(done: int, total: int) -> None:
        if done == total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _get(server, tmp_path, crash=crash)
    assert part_path(tmp_path / "model.tar").stat().st_size == MiB
    _get(server, tmp_path)
    assert server.requests[-1].headers["Range"] == f"bytes={MiB - 1}-"
    assert (tmp_path / "model.tar").read_bytes() == server.body


def test_server_errors_are_retried_with_backoff_and_others_raised(tmp_path: Path) -> None:
    server = FakeDownload(_body(MiB), statuses=[503, 429])
    sleeps: list[float] = []
    _get(server, tmp_path, sleeps=sleeps)
    assert [r.status for r in server.requests] == [503, 429, 200]
    assert len(sleeps) == 2 and all(s >= 1 for s in sleeps)  # Retry-After: 1 honoured
    assert (tmp_path / "model.tar").read_bytes() == server.body

    gone = FakeDownload(_body(MiB), statuses=[404])
    with pytest.raises(ApiError) as err:
        _get(gone, tmp_path, target=tmp_path / "gone.tar")
    assert err.value.status == 404 and len(gone.requests) == 1


def test_a_lasting_server_error_is_the_servers_error_and_leaves_no_empty_part(
    tmp_path: Path,
) -> None:
    server = FakeDownload(
        _body(MiB),
        statuses=[500] * 4,
        status_json={"errors": [{"code": "INTERNAL", "msg": "The export blob is unreadable."}]},
    )
    with pytest.raises(ApiError) as err:
        _get(server, tmp_path, attempts=4)
    assert (err.value.status, err.value.code) == (500, "INTERNAL")
    assert err.value.msg == "The export blob is unreadable."
    assert len(server.requests) == 4  # retried as before, then the server's answer
    assert not part_path(tmp_path / "model.tar").exists()
    assert not list((tmp_path / "state").rglob("*.json"))


def test_a_lasting_server_error_after_some_bytes_keeps_them_to_resume(tmp_path: Path) -> None:
    server = FakeDownload(_body(MiB), drops=[1000], statuses=[503] * 3, statuses_after=1)
    with pytest.raises(ApiError) as err:
        _get(server, tmp_path, attempts=3)
    assert err.value.status == 503
    assert part_path(tmp_path / "model.tar").stat().st_size == 1000
    assert _get(server, tmp_path).resumed_bytes == 1000


def test_a_download_that_never_got_a_byte_leaves_no_part(tmp_path: Path) -> None:
    server = FakeDownload(_body(MiB), drops=[0, 0, 0])
    with pytest.raises(TransportError) as err:
        _get(server, tmp_path, attempts=3)
    assert "nothing arrived" in err.value.msg and "bytes are kept" not in err.value.msg
    assert not part_path(tmp_path / "model.tar").exists()


def test_an_unwritable_target_is_a_local_error(tmp_path: Path) -> None:
    server = FakeDownload(_body(1000))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(LocalInputError) as err:
        _get(server, tmp_path, target=tmp_path / "a-file" / "model.tar")
    assert err.value.code == "WRITE_FAILED" and "a-file" in err.value.msg
