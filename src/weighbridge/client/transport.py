"""HTTP to one weighbridge server: the API key, retries with backoff, and error parsing.

`Transport` owns one `httpx.Client` (thread-safe, so upload threads share its connection
pool) and is the only place that catches httpx exceptions. Every request is retried on
connection errors, timeouts, 408, 429 and 5xx with exponential backoff and jitter,
honouring `Retry-After`; a streamed body is re-created for each attempt from a factory, so
a retry re-reads the bytes from their source instead of keeping them in memory. Any other
error status raises `ApiError` at once. Every call the SDK makes is safe to repeat: start
carries an Idempotency-Key, a re-sent chunk replaces the earlier copy and complete answers
the same job again.

Downloads are the one exception to "retry inside": `stream` makes a single streamed GET
and hands back the response, because only the caller knows where to resume a body cut
off in the middle. Wire failures reach it as `StreamBroken`. The API key goes only to the
server's own origin, never to another host a download URL might point at.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from weighbridge.client.errors import ApiError, TransportError, WeighbridgeClientError

# 501/505 mean "this server will never do that": retrying cannot help.
_NEVER_RETRY_5XX = frozenset({501, 505})
_RETRY_4XX = frozenset({408, 429})

BodyFactory = Callable[[], Iterable[bytes]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried."""

    max_attempts: int = 6
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0
    # A server asking for a longer pause than this is obeyed only up to it.
    max_retry_after_seconds: float = 120.0
    # None waits on the wall clock (cut short by a cancel event); tests inject a fake.
    sleep: Callable[[float], None] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** (attempt - 1))
        # "Equal jitter": never less than half the backoff, so retries stay spread out
        # but parallel uploaders that failed together do not retry in lockstep.
        wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after_seconds))
        return wait

    def pause(self, seconds: float, cancel: threading.Event | None) -> None:
        """Wait before the next attempt; raise `Cancelled` if `cancel` is set meanwhile."""
        if self.sleep is not None:
            self.sleep(seconds)
        elif cancel is not None:
            cancel.wait(seconds)
        else:
            time.sleep(seconds)
        if cancel is not None and cancel.is_set():
            raise Cancelled()


class Cancelled(Exception):
    """Internal: the caller gave up on this request (another chunk failed, or Ctrl-C)."""


class StreamBroken(Exception):
    """Internal: a streamed request failed on the wire, before or while reading its body."""


def same_origin(url: httpx.URL, other: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)) == (
        other.scheme,
        other.host,
        other.port or _DEFAULT_PORTS.get(other.scheme),
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def server_url(host: str) -> str:
    """`host` if it is an http(s) URL naming a host; else `WeighbridgeClientError`.

    Checked before any request: a name like "localhost:8080" or a typo would otherwise
    cost every retry of a connection that can never work.
    """
    try:
        url = httpx.URL(host.strip())
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise WeighbridgeClientError(
            "INVALID_HOST",
            f"{host!r} is not a server URL; give its scheme and host, "
            "e.g. http://127.0.0.1:8080 or https://weighbridge.example.com.",
        )
    return str(url)


def is_retryable_status(status: int) -> bool:
    return status in _RETRY_4XX or (status >= 500 and status not in _NEVER_RETRY_5XX)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def parse_error(response: httpx.Response) -> ApiError:
    """Turn an error answer into `ApiError`, whatever shape the body has.

    The server sends `{"errors": [{"code", "msg", ...}]}`; a proxy in between may send
    HTML or nothing, and FastAPI's own validation answers `{"detail": ...}`.
    """
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code: str | None = None
    msg: str | None = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = str(first["code"]) if first.get("code") else None
            msg = str(first["msg"]) if first.get("msg") else None
        elif "detail" in body:
            msg = str(body["detail"])
    if code is None:
        code = f"HTTP_{response.status_code}"
    if msg is None:
        text = "" if body is not None else response.text.strip()[:200]
        msg = f"The server answered {response.status_code} {response.reason_phrase}"
        msg += f": {text}" if text else "."
    return ApiError(response.status_code, code, msg, body)


class Transport:
    """Authenticated, retrying requests against `base_url` (e.g. http://host:8080)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy,
        http_transport: httpx.BaseTransport | None = None,
        user_agent: str = "weighbridge-python",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"X-api-key": api_key, "User-Agent": user_agent},
            timeout=timeout,
            transport=http_transport,
            # Enough pooled connections for any sensible number of upload threads.
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        body: BodyFactory | None = None,
        headers: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> httpx.Response:
        """Send one request, retrying transient failures; return a 2xx response.

        `body` is called once per attempt and must yield the same bytes each time; pass
        a `Content-Length` in `headers` with it so the body is not sent chunked.
        Raises `ApiError` for an error answer and `TransportError` when the server
        stayed unreachable; `Cancelled` when `cancel` was set while waiting to retry.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    content=body() if body is not None else None,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_attempts:
                    raise TransportError(
                        f"Could not reach {self.base_url} ({method} {path}) after "
                        f"{attempt} attempts: {exc or type(exc).__name__}.",
                        attempt,
                    ) from exc
                self.retry.pause(self.retry.delay(attempt), cancel)
                continue
            if response.is_success:
                return response
            if is_retryable_status(response.status_code) and attempt < self.retry.max_attempts:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                self.retry.pause(self.retry.delay(attempt, wait), cancel)
                continue
            raise parse_error(response)

    @contextlib.contextmanager
    def stream(self, url: str, headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        """One streamed GET of `url` (a path or an absolute URL), whatever its status.

        Not retried here: see the module docstring. Read the body with `iter_body`.
        """
        request = self._http.build_request("GET", url, headers=headers)
        if not same_origin(request.url, self._http.base_url):
            del request.headers["X-api-key"]  # e.g. a presigned URL: it needs no key
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise StreamBroken(str(exc) or type(exc).__name__) from exc
        try:
            yield response
        finally:
            response.close()

    @staticmethod
    def iter_body(response: httpx.Response) -> Iterator[bytes]:
        """The body of a `stream` response, each piece as soon as it arrives (so a piece
        is at most one network read; none is held back when the connection drops)."""
        try:
            yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise StreamBroken(str(exc) or type(exc).__name__) from exc

    @staticmethod
    def error_of(response: httpx.Response) -> ApiError:
        """The `ApiError` of a `stream` response with an error status (reads its body)."""
        try:
            response.read()
        except httpx.TransportError:
            status = response.status_code
            msg = f"The server answered {status} {response.reason_phrase}."
            return ApiError(status, f"HTTP_{status}", msg, None)
        return parse_error(response)

    def get_json(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return self.decode(self.request("GET", path, params=params))

    def decode(self, response: httpx.Response) -> Any:
        """The JSON of a successful answer; a 2xx that is not JSON is an `ApiError`."""
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                response.status_code,
                "BAD_RESPONSE",
                f"The server at {self.base_url} answered {response.request.method} "
                f"{response.request.url.path} with something that is not JSON; "
                "is the host right?",
                None,
            ) from exc
