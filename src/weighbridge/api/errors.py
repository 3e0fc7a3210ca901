"""The one place errors become HTTP answers: `{"errors": [{"code", "msg", ...}]}`.

A 500 never carries exception text; the traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from weighbridge.errors import ErrorCode, WeighbridgeError

log = logging.getLogger("weighbridge.api")

HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED,
              413: ErrorCode.TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE}


def error_response(exc: WeighbridgeError) -> JSONResponse:
    headers = {}
    if exc.code == ErrorCode.RANGE_NOT_SATISFIABLE and "size" in exc.extra:
        headers["Content-Range"] = f"bytes */{exc.extra['size']}"  # RFC 9110 §15.5.17
    return JSONResponse({"errors": [exc.to_dict()]}, status_code=exc.http_status,
                        headers=headers)


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    if err.get("type") == "missing":
        return field, f"{field} is required."
    if err.get("type") == "json_invalid":
        return "body", "The request body is not valid JSON."
    return field, f"{field}: {err.get('msg')}."


def install(app: FastAPI) -> None:
    @app.exception_handler(WeighbridgeError)
    async def _weighbridge(request: Request, exc: WeighbridgeError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("api.error path=%s code=%s", request.url.path, exc.code, exc_info=exc)
        return error_response(exc)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        # The client hung up mid-body: nobody will read this answer, and nothing was kept.
        log.info("api.client_disconnected path=%s", request.url.path)
        return error_response(WeighbridgeError(ErrorCode.CLIENT_DISCONNECTED, "The client "
                                               "disconnected before sending the whole body."))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            field, msg = _describe(err)
            errors.append({"code": str(ErrorCode.INVALID_FIELD), "msg": msg, "field": field})
        return JSONResponse({"errors": errors or [{"code": "INVALID_FIELD",
                                                    "msg": "The request is invalid."}]},
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_FIELD)
        msg = "No such route; see the API in the README." if exc.status_code == 404 \
            else str(exc.detail)
        return JSONResponse({"errors": [{"code": str(code), "msg": msg}]},
                            status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled path=%s", request.url.path, exc_info=exc)
        return JSONResponse({"errors": [{"code": str(ErrorCode.INTERNAL), "msg": "An "
                                         "unexpected server error occurred; it has been logged. "
                                         "Retry, and report it if it persists."}]},
                            status_code=500)
