"""A cap on request bodies everywhere except chunk uploads.

JSON bodies (start, complete) are small by nature, but FastAPI reads and parses a body
before any dependency runs, the key check included: without a cap, anyone could make
the server hold a gigabyte of JSON in memory. Chunk uploads stream their bodies to
storage with their own limits (services/chunk_intake.py) and are exempt.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weighbridge.errors import ErrorCode

MAX_BODY_BYTES = 64 * 1024
CHUNK_ROUTE = re.compile(r"^/api/public/files/session/(?!start$)[^/]+$")


def _too_large_body() -> bytes:
    return json.dumps({"errors": [{"code": str(ErrorCode.TOO_LARGE), "msg":
                       f"The request body is over {MAX_BODY_BYTES} bytes; this route takes a "
                       "small JSON object."}]}).encode()


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST"
                                       and CHUNK_ROUTE.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # A body without Content-Length that keeps coming: end it here and let
                    # the app fail on an empty remainder; the answer below replaces its own.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                started = True
                await self._refuse(send)
                return
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)
        if refused and not started:
            await self._refuse(send)

    @staticmethod
    async def _refuse(send: Send) -> None:
        body = _too_large_body()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
