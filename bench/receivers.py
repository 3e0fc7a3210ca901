"""The two servers weighbridge is measured against, run exactly as `weighbridge serve` runs.

    python bench/receivers.py bare --port P --dir D   # (a) the bare-receiver ceiling
    python bench/receivers.py tus  --port P --dir D   # (c) tuspyserver, the same-language peer

Both get weighbridge's own `tune_malloc()` and uvicorn settings (uvloop, httptools, one
worker, no access log), so the ratios compare route code, not server configuration.

The bare receiver is the least a Python upload route can do: `request.stream()` written
piece by piece into a file with `os.write`, on the event loop, no hashing, no database,
no fsync. `POST /reset` deletes what it received so runs do not pile up dirty pages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from weighbridge.server import tune_malloc


def bare_app(directory: Path) -> Starlette:
    directory.mkdir(parents=True, exist_ok=True)

    async def receive(request: Request) -> JSONResponse:
        path = directory / uuid.uuid4().hex
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        size = 0
        try:
            async for piece in request.stream():
                if piece:
                    os.write(fd, piece)
                    size += len(piece)
        finally:
            os.close(fd)
        return JSONResponse({"size": size})

    async def reset(request: Request) -> JSONResponse:
        for p in directory.iterdir():
            p.unlink()
        return JSONResponse({})

    return Starlette(routes=[Route("/upload", receive, methods=["POST"]),
                             Route("/reset", reset, methods=["POST"])])


def tus_app(directory: Path) -> Any:
    from fastapi import FastAPI
    from tuspyserver import create_tus_router

    directory.mkdir(parents=True, exist_ok=True)
    app = FastAPI()
    app.include_router(create_tus_router(prefix="files", files_dir=str(directory),
                                         max_size=1 << 40))

    @app.post("/reset")
    def reset() -> dict[str, str]:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        return {}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "tus"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    tune_malloc()
    app = bare_app(args.dir) if args.kind == "bare" else tus_app(args.dir)
    # The same settings as weighbridge.server.serve.
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
