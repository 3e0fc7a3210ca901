"""The benchmark's clients, one process per measured run (so its peak RSS is its own).

    python bench/send.py chunks --form raw|multipart|bare --url U --file F --chunk-bytes N
                         --parallel P [--key K --session S --sums SUMS.json]
    python bench/send.py tus    --url U --file F --chunk-bytes N
    python bench/send.py small  --url U --key K --file F --concurrency 50 --seconds 10

Prints one JSON object on stdout. The chunk client is stdlib `http.client` with one
keep-alive connection per thread; each body is streamed from the file in 1 MiB pieces
(`os.preadv` into one reused buffer) with Content-Length, never built as one big bytes
object. The GALE multipart form wraps the same stream in a part header and a closing
boundary. Per-chunk sha256 values are computed by the orchestrator beforehand and sent
as X-Chunk-Sha256, so the client's CPU goes to sending, as it would for a client that
hashes while reading ahead.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

PIECE = 1024 * 1024


def peak_rss_mib() -> float:
    """This process's VmHWM. (A parent's wait4 ru_maxrss would count the parent's own RSS,
    inherited at fork, so each client reports its own.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=600)
    conn.connect()
    return conn


def post_stream(conn: http.client.HTTPConnection, path: str, headers: dict[str, str], fd: int,
                offset: int, length: int, prefix: bytes = b"", suffix: bytes = b"",
                buf: memoryview | None = None) -> tuple[int, bytes]:
    buf = buf if buf is not None else memoryview(bytearray(PIECE))
    conn.putrequest("POST", path, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(prefix) + length + len(suffix)))
    conn.endheaders()
    sock = conn.sock
    if prefix:
        sock.sendall(prefix)
    left = length
    while left:
        n = os.preadv(fd, [buf[: min(PIECE, left)]], offset)
        if n <= 0:
            raise OSError("the file is shorter than expected")
        sock.sendall(buf[:n])
        offset += n
        left -= n
    if suffix:
        sock.sendall(suffix)
    resp = conn.getresponse()
    return resp.status, resp.read()


def multipart_wrap(number: int, boundary: str) -> tuple[bytes, bytes]:
    prefix = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"chunkNumber\"\r\n\r\n"
              f"{number}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
              f"filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return prefix, f"\r\n--{boundary}--\r\n".encode()


def run_chunks(args: argparse.Namespace) -> dict[str, Any]:
    size = os.path.getsize(args.file)
    chunk = args.chunk_bytes
    n = -(-size // chunk)
    sums: list[str] = json.loads(Path(args.sums).read_text()) if args.sums else []
    work: queue.Queue[int] = queue.Queue()
    for i in range(n):
        work.put(i)
    errors: list[str] = []
    fd = os.open(args.file, os.O_RDONLY)

    def worker() -> None:
        conn = _connect(args.url)
        buf = memoryview(bytearray(PIECE))
        try:
            while not errors:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                off, ln = i * chunk, min(chunk, size - i * chunk)
                headers = {"X-api-key": args.key} if args.key else {}
                if sums:
                    headers["X-Chunk-Sha256"] = sums[i]
                prefix = suffix = b""
                if args.form == "bare":
                    path = "/upload"
                    headers["Content-Type"] = "application/octet-stream"
                elif args.form == "raw":
                    path = f"/api/public/files/session/{args.session}?chunkNumber={i}"
                    headers["Content-Type"] = "application/octet-stream"
                else:
                    boundary = uuid.uuid4().hex
                    path = f"/api/public/files/session/{args.session}"
                    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
                    prefix, suffix = multipart_wrap(i, boundary)
                status, body = post_stream(conn, path, headers, fd, off, ln, prefix, suffix, buf)
                if status != 200:
                    errors.append(f"chunk {i}: HTTP {status} {body[:300]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(args.parallel)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    os.close(fd)
    if errors:
        raise SystemExit(errors[0])
    return {"seconds": seconds, "bytes": size}


def run_tus(args: argparse.Namespace) -> dict[str, Any]:
    from tusclient import client

    uploader = client.TusClient(args.url + "/files/").uploader(
        args.file, chunk_size=args.chunk_bytes, metadata={"filename": "bench.safetensors"})
    t0 = time.perf_counter()
    uploader.upload()
    seconds = time.perf_counter() - t0
    if uploader.offset != os.path.getsize(args.file):
        raise SystemExit(f"tus stopped at {uploader.offset}")
    return {"seconds": seconds, "bytes": uploader.offset}


def run_small(args: argparse.Namespace) -> dict[str, Any]:
    """`concurrency` threads each loop start → one chunk → complete for `seconds`."""
    data = Path(args.file).read_bytes()
    deadline = time.perf_counter() + args.seconds
    counts = [0] * args.concurrency
    errors: list[str] = []
    start_body = json.dumps({"fileContext": "model", "totalChunks": 1,
                             "fileExtension": "safetensors", "fileName": "small.safetensors",
                             "fileSize": len(data)}).encode()
    barrier = threading.Barrier(args.concurrency + 1)

    def call(conn: http.client.HTTPConnection, path: str, body: bytes,
             ctype: str) -> dict[str, Any]:
        conn.request("POST", path, body=body, headers={"X-api-key": args.key,
                                                       "Content-Type": ctype})
        resp = conn.getresponse()
        text = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status} {text[:200]!r}")
        result: dict[str, Any] = json.loads(text)
        return result

    def worker(k: int) -> None:
        conn = _connect(args.url)
        barrier.wait()
        try:
            while time.perf_counter() < deadline and not errors:
                sid = call(conn, "/api/public/files/session/start", start_body,
                           "application/json")["sessionId"]
                call(conn, f"/api/public/files/session/{sid}?chunkNumber=0", data,
                     "application/octet-stream")
                call(conn, f"/api/public/files/session/{sid}/complete", b"", "application/json")
                counts[k] += 1
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            errors.append(str(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise SystemExit(errors[0])
    return {"seconds": seconds, "sessions": sum(counts)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["chunks", "tus", "small"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--form", choices=["raw", "multipart", "bare"], default="raw")
    parser.add_argument("--chunk-bytes", type=int, default=64 * PIECE)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--key", default="")
    parser.add_argument("--session", default="")
    parser.add_argument("--sums", default="")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    run = {"chunks": run_chunks, "tus": run_tus, "small": run_small}[args.mode]
    result = run(args)
    result["peak_rss_mib"] = peak_rss_mib()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
