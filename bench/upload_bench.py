"""`make bench`: time a large upload and its import against a real server process.

Generates a safetensors file (default 2 GiB), starts `weighbridge serve` on a temporary
data directory, uploads the file in 64 MiB chunks, 4 in parallel, with the raw form
and X-Chunk-Sha256 on every chunk, completes, and waits for SUCCESS. Prints MB/s for
the upload and for complete→SUCCESS and the server's peak RSS (VmHWM), and writes
the same figures as JSON. Not a test: nothing here asserts a time.

    python bench/upload_bench.py [--size-mib 2048] [--chunk-mib 64] [--parallel 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

MiB = 1024 * 1024
PIECE = 1 * MiB


def make_safetensors(path: Path, size: int) -> None:
    """One U8 tensor filling the file; pseudo-random bytes so nothing compresses it."""
    header_for = lambda n: json.dumps(  # noqa: E731
        {"weights": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    n = size - 8 - len(header_for(size))
    header = header_for(n).ljust(size - 8 - n)
    block = hashlib.shake_256(b"weighbridge-bench").digest(8 * MiB)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        left = n
        while left:
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def file_range(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        while length:
            piece = f.read(min(PIECE, length))
            length -= len(piece)
            yield piece


def range_sha256(path: Path, offset: int, length: int) -> str:
    h = hashlib.sha256()
    for piece in file_range(path, offset, length):
        h.update(piece)
    return h.hexdigest()


def run(size: int, chunk: int, parallel: int, workdir: Path) -> dict[str, float]:
    src = workdir / "bench.safetensors"
    make_safetensors(src, size)
    data_dir = workdir / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "weighbridge", "serve", "--port", str(port),
         "--data-dir", str(data_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        key = subprocess.run([sys.executable, "-m", "weighbridge", "keys", "create", "--name",
                              "bench", "--data-dir", str(data_dir)], check=True,
                             capture_output=True, text=True).stdout.strip()
        n = -(-size // chunk)
        ranges = [(i, i * chunk, min(chunk, size - i * chunk)) for i in range(n)]
        sums = {i: range_sha256(src, off, ln) for i, off, ln in ranges}
        headers = {"X-api-key": key}
        with httpx.Client(base_url=url, headers=headers, timeout=600) as api:
            sid = api.post("/api/public/files/session/start", json={
                "fileContext": "model", "totalChunks": n, "fileExtension": "safetensors",
                "fileName": "bench.safetensors", "fileSize": size}).json()["sessionId"]

            def send(item: tuple[int, int, int]) -> None:
                i, off, ln = item
                r = api.post(f"/api/public/files/session/{sid}", params={"chunkNumber": i},
                             content=file_range(src, off, ln),
                             headers={"Content-Type": "application/octet-stream",
                                      "Content-Length": str(ln), "X-Chunk-Sha256": sums[i]})
                r.raise_for_status()

            t0 = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(send, ranges))
            upload_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            ds = api.post(f"/api/public/files/session/{sid}/complete").json()["dockStatusId"]
            while (status := api.get(f"/api/public/dock-status/{ds}").json())["status"] \
                    == "IN_PROGRESS":
                time.sleep(0.05)
            import_s = time.perf_counter() - t1
            if status["status"] != "SUCCESS":
                raise SystemExit(f"import failed: {status.get('error')}")
        rss = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    return {"size_mib": size / MiB, "chunk_mib": chunk / MiB, "parallel": parallel,
            "upload_s": upload_s, "upload_mb_s": size / 1e6 / upload_s,
            "complete_to_success_s": import_s, "import_mb_s": size / 1e6 / import_s,
            "server_peak_rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--json", type=Path, default=Path("bench/results/upload_bench.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="weighbridge-bench-", dir=os.environ.get("TMPDIR")))
    try:
        result = run(args.size_mib * MiB, args.chunk_mib * MiB, args.parallel, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"file            {result['size_mib']:.0f} MiB in {result['chunk_mib']:.0f} MiB chunks, "
          f"{result['parallel']} in parallel, raw form, X-Chunk-Sha256 on")
    print(f"upload          {result['upload_mb_s']:8.1f} MB/s  ({result['upload_s']:.2f} s)")
    print(f"complete→SUCCESS{result['import_mb_s']:8.1f} MB/s  "
          f"({result['complete_to_success_s']:.2f} s)")
    print(f"server peak RSS {result['server_peak_rss_mib']:8.1f} MiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
