"""Retries, backoff and error parsing in `Transport`, against `httpx.MockTransport`."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import httpx
import pytest

from weighbridge.client.errors import ApiError, TransportError
from weighbridge.client.transport import (
    RetryPolicy,
    Transport,
    is_retryable_status,
    parse_error,
    parse_retry_after,
)

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers requests from a script and records what was sent and how long we slept."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def transport(self, max_attempts: int = 4) -> Transport:
        policy = RetryPolicy(
            max_attempts=max_attempts, sleep=self.sleeps.append, rng=random.Random(0)
        )
        return Transport(
            "http://wb.test/",
            "secret",
            timeout=5,
            retry=policy,
            http_transport=httpx.MockTransport(self),
        )


def _error(status: int, code: str, msg: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "msg": msg}]}, headers=headers)


def test_a_503_is_retried_then_succeeds() -> None:
    rec = Recorder(_error(503, "INTERNAL", "busy"), httpx.Response(200, json={"ok": True}))
    assert rec.transport().get_json("/api/public/limits") == {"ok": True}
    assert len(rec.requests) == 2
    assert len(rec.sleeps) == 1 and rec.sleeps[0] > 0
    assert rec.requests[0].headers["X-api-key"] == "secret"


def test_a_connection_error_is_retried_then_succeeds() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.Response(200, json=[1]))
    assert rec.transport().get_json("/x") == [1]
    assert len(rec.requests) == 2


def test_a_read_timeout_is_retried() -> None:
    rec = Recorder(httpx.ReadTimeout("slow"), httpx.Response(200, json={}))
    assert rec.transport().get_json("/x") == {}


def test_a_400_is_not_retried_and_raises_the_server_error() -> None:
    rec = Recorder(_error(400, "INVALID_FIELD", "totalChunks must be at least 1."))
    with pytest.raises(ApiError) as err:
        rec.transport().request("POST", "/api/public/files/session/start", json={})
    assert (err.value.status, err.value.code) == (400, "INVALID_FIELD")
    assert err.value.msg == "totalChunks must be at least 1."
    assert len(rec.requests) == 1 and rec.sleeps == []


def test_429_honours_retry_after() -> None:
    rec = Recorder(
        _error(429, "RATE_LIMITED", "slow down", **{"Retry-After": "7"}), httpx.Response(200)
    )
    rec.transport().request("GET", "/x")
    assert rec.sleeps[0] >= 7


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_seconds=60, rng=random.Random(0))
    assert policy.delay(1, retry_after=10_000) == 60


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(base_delay_seconds=1, max_delay_seconds=8, rng=random.Random(0))
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        for _ in range(50):
            assert ceiling / 2 <= policy.delay(attempt) <= ceiling


def test_connection_errors_exhaust_into_transport_error() -> None:
    rec = Recorder(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(TransportError) as err:
        rec.transport(max_attempts=3).request("GET", "/x")
    assert err.value.attempts == 3
    assert isinstance(err.value.__cause__, httpx.ConnectError)
    assert len(rec.sleeps) == 2


def test_persistent_5xx_ends_as_the_servers_error() -> None:
    rec = Recorder(*[_error(507, "OUT_OF_STORAGE", "disk full")] * 2)
    with pytest.raises(ApiError) as err:
        rec.transport(max_attempts=2).request("GET", "/x")
    assert (err.value.status, err.value.code, err.value.msg) == (507, "OUT_OF_STORAGE", "disk full")


def test_a_streamed_body_is_rewound_for_each_attempt() -> None:
    rec = Recorder(httpx.WriteError("reset"), _error(502, "X", "bad gateway"), httpx.Response(200))
    calls = 0

    def body() -> Iterable[bytes]:
        nonlocal calls
        calls += 1
        return iter([b"abc", b"def"])

    rec.transport().request("POST", "/c", body=body, headers={"Content-Length": "6"})
    assert calls == 3
    assert rec.bodies[-1] == b"abcdef"
    assert rec.requests[-1].headers["Content-Length"] == "6"
    assert "Transfer-Encoding" not in rec.requests[-1].headers


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (410, False),
        (413, False),
        (408, True),
        (429, True),
        (500, True),
        (501, False),
        (502, True),
        (503, True),
        (504, True),
        (507, True),
    ],
)
def test_which_statuses_are_retried(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


def test_parse_error_reads_the_first_error() -> None:
    response = httpx.Response(
        409,
        json={"errors": [{"code": "UPLOAD_INCOMPLETE", "msg": "send 3", "missingChunks": [3]}]},
    )
    error = parse_error(response)
    assert (error.status, error.code, error.msg) == (409, "UPLOAD_INCOMPLETE", "send 3")
    assert error.body["errors"][0]["missingChunks"] == [3]


def test_parse_error_copes_with_other_shapes() -> None:
    html = parse_error(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert html.code == "HTTP_502" and "Bad Gateway" in html.msg and html.body is None
    fastapi = parse_error(httpx.Response(422, json={"detail": "field required"}))
    assert (fastapi.code, fastapi.msg) == ("HTTP_422", "field required")
    empty = parse_error(httpx.Response(500))
    assert empty.code == "HTTP_500" and "500" in empty.msg


def test_a_success_that_is_not_json_is_an_api_error() -> None:
    rec = Recorder(httpx.Response(200, text="<html>a proxy login page</html>"))
    with pytest.raises(ApiError, match="not JSON"):
        rec.transport().get_json("/api/public/models")


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
