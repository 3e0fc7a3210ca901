"""An in-memory weighbridge API behind `httpx.MockTransport`, for SDK flow tests.

It follows DESIGN §2 closely enough to check what the client sends (headers, chunk
bodies and their checksums, the start body) and lets a test inject failures per call.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx

Failure = Callable[[httpx.Request], httpx.Response | None]


def error(status: int, code: str, msg: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "msg": msg, **extra}]})


class FakeServer:
    def __init__(self, limits: dict[str, Any] | None = None, job_polls: int = 1) -> None:
        self.limits = limits
        self.job_polls = job_polls  # IN_PROGRESS answers before the job's outcome
        self.job_error: dict[str, str] | None = None
        self.lock = threading.Lock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.chunks: dict[str, dict[int, bytes]] = {}
        self.idempotency: dict[str, str] = {}
        self.chunk_posts: list[tuple[str, int]] = []
        self.chunk_headers: list[httpx.Headers] = []
        self.polls: dict[str, int] = {}
        self.aborted: list[str] = []  # sessions a DELETE was sent for, in order
        self.fail: Failure | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.fail is not None and (injected := self.fail(request)) is not None:
            return injected
        with self.lock:
            return self._route(request)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if request.headers.get("X-api-key") != "key":
            return error(401, "UNAUTHORIZED", "bad key")
        if path == "/api/public/limits":
            return (
                httpx.Response(200, json=self.limits)
                if self.limits
                else error(404, "NOT_FOUND", "no")
            )
        if path == "/api/public/files/session/start":
            return self._start(request)
        if path.startswith("/api/public/files/session/"):
            rest = path.removeprefix("/api/public/files/session/")
            session_id, _, action = rest.partition("/")
            if session_id not in self.sessions:
                return error(404, "NOT_FOUND", "no session")
            if action == "complete":
                return self._complete(session_id)
            if method == "GET":
                return self._state(session_id)
            if method == "DELETE":
                return self._abort(session_id)
            return self._chunk(session_id, request)
        if path.startswith("/api/public/dock-status/"):
            return self._dock_status(path.rsplit("/", 1)[1])
        return error(404, "NOT_FOUND", f"no route {path}")

    def _start(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        key = request.headers.get("Idempotency-Key", "")
        if key in self.idempotency:
            session_id = self.idempotency[key]
        else:
            session_id = str(uuid.uuid4())
            self.idempotency[key] = session_id
            self.sessions[session_id] = {"body": body, "status": "OPEN"}
            self.chunks[session_id] = {}
        return httpx.Response(
            200, json={"sessionId": session_id, "modelId": "cm-1", "expirationDate": "x"}
        )

    def _chunk(self, session_id: str, request: httpx.Request) -> httpx.Response:
        assert request.headers["Content-Type"] == "application/octet-stream"
        number = int(request.url.params["chunkNumber"])
        data = request.content
        assert int(request.headers["Content-Length"]) == len(data)
        if hashlib.sha256(data).hexdigest() != request.headers.get("X-Chunk-Sha256"):
            return error(400, "CHUNK_CHECKSUM_MISMATCH", "bad chunk")
        self.chunk_posts.append((session_id, number))
        self.chunk_headers.append(request.headers)
        self.chunks[session_id][number] = data
        return httpx.Response(200, json={"chunkNumber": number, "sessionId": session_id})

    def _state(self, session_id: str) -> httpx.Response:
        session = self.sessions[session_id]
        received = [
            {"chunkNumber": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
            for n, d in sorted(self.chunks[session_id].items())
        ]
        return httpx.Response(
            200,
            json={
                "sessionId": session_id,
                "status": session["status"],
                "totalChunks": session["body"]["totalChunks"],
                "fileSize": session["body"]["fileSize"],
                "receivedChunks": received,
            },
        )

    def _abort(self, session_id: str) -> httpx.Response:
        self.aborted.append(session_id)
        status = self.sessions[session_id]["status"]
        if status == "COMPLETED":
            return error(409, "SESSION_COMPLETED", "already completed")
        if status != "OPEN":
            return error(410, "SESSION_GONE", f"session {status.lower()}")
        self.sessions[session_id]["status"] = "ABORTED"
        self.chunks[session_id] = {}
        return httpx.Response(200, json={"sessionId": session_id, "status": "ABORTED"})

    def _complete(self, session_id: str) -> httpx.Response:
        body = self.sessions[session_id]["body"]
        missing = [n for n in range(body["totalChunks"]) if n not in self.chunks[session_id]]
        if missing:
            return error(409, "UPLOAD_INCOMPLETE", "missing chunks", missingChunks=missing)
        self.sessions[session_id]["status"] = "COMPLETED"
        ds = f"ds-{session_id}"
        return httpx.Response(
            200,
            json={
                "dock-statusId": ds,
                "dockStatusId": ds,
                "modelId": "cm-1",
                "status": "IN_PROGRESS",
            },
        )

    def _dock_status(self, ds: str) -> httpx.Response:
        self.polls[ds] = self.polls.get(ds, 0) + 1
        base = {"_id": ds, "modelId": "cm-1", "jobType": "MODELS", "action": "IMPORT"}
        if self.polls[ds] <= self.job_polls:
            return httpx.Response(
                200,
                json={
                    **base,
                    "status": "IN_PROGRESS",
                    "phase": "VERIFYING",
                    "percentageComplete": 40,
                },
            )
        if self.job_error is not None:
            return httpx.Response(200, json={**base, "status": "FAILED", "error": self.job_error})
        return httpx.Response(
            200,
            json={
                **base,
                "status": "SUCCESS",
                "percentageComplete": 100,
                "response": {"_id": "cm-1", "modelId": "cm-1", "name": "m"},
            },
        )

    def uploaded(self, session_id: str) -> bytes:
        parts = self.chunks[session_id]
        return b"".join(parts[n] for n in sorted(parts))
