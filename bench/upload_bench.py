"""`make bench`: weighbridge's upload and import speed against this machine's ceiling and a peer.

One run, the same generated files for every figure, interleaved repetitions, medians:

  (a) bare    a minimal Starlette route (`request.stream()` → file) on uvicorn, with
              weighbridge's uvicorn settings and malloc tuning (bench/receivers.py)
  (b) wb      weighbridge, raw form and GALE multipart form, sequential and parallel,
              each chunk size and file size, X-Chunk-Sha256 on every chunk
  (c) tus     tuspyserver + tuspy (tus core: one PATCH per chunk, sequential), same
              server settings
  (d) import  complete→SUCCESS of an uploaded file vs one `sha256sum` of the same file
  (e) RSS     peak RSS of each server per run (VmHWM, reset between runs) and of each
              client process, including `weighbridge import` (the CLI) at every size
  (f) small   50 concurrent clients looping start → one small chunk → complete

Every weighbridge figure is also given as a ratio to (a) and (c) from the same run.
Prints a table and writes JSON (bench/results/, git-ignored). Not a test: nothing here
asserts a time. Options: `--help`; `--quick` is a ~1-minute smoke run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

MiB = 1024 * 1024
GiB = 1024 * MiB
HERE = Path(__file__).resolve().parent
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- inputs -----------------------------------------------------------------------------

def make_safetensors(path: Path, size: int) -> None:
    """One U8 tensor filling the file; pseudo-random bytes so nothing compresses it."""
    def header_for(n: int) -> bytes:
        return json.dumps({"weights": {"dtype": "U8", "shape": [n],
                                       "data_offsets": [0, n]}}).encode()
    n = size - 8 - len(header_for(size))
    header = header_for(n).ljust(size - 8 - n)
    block = hashlib.shake_256(path.name.encode()).digest(8 * MiB)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        left = n
        while left:
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def chunk_sums(path: Path, chunk: int) -> list[str]:
    sums = []
    with open(path, "rb", buffering=0) as f:
        while data := f.read(chunk):
            sums.append(hashlib.sha256(data).hexdigest())
    return sums


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while data := f.read(8 * MiB):
            h.update(data)
    return h.hexdigest()


# -- processes ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def proc_peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM to the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class Server:
    def __init__(self, name: str, argv: list[str], port: int, env: dict[str, str] | None = None):
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})})
        for _ in range(300):
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} server exited: {self.proc.stderr.read().decode()[-2000:]}"
                                 if self.proc.stderr else f"{name} server exited")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{name} server did not start")
        self.peak_overall = 0.0
        self.key = ""
        self.env = env or {}

    @property
    def pid(self) -> int:
        return self.proc.pid

    def begin(self) -> float:
        reset_peak(self.pid)
        return proc_cpu_seconds(self.pid)

    def end(self, cpu0: float) -> tuple[float, float]:
        peak = proc_peak_mib(self.pid)
        self.peak_overall = max(self.peak_overall, peak)
        return proc_cpu_seconds(self.pid) - cpu0, peak

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_child(argv: list[str], env: dict[str, str] | None = None
              ) -> tuple[str, float, float]:
    """Run a client process; return (stdout, wall seconds, CPU seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{argv[1:3]} failed ({proc.returncode}): "
                         f"{(out + err).decode(errors='replace')[-2000:]}")
    return out.decode(), wall, usage.ru_utime + usage.ru_stime


def settle() -> None:
    """Start each run with no dirty pages left over from the one before."""
    os.sync()
    time.sleep(0.3)


# -- runs --------------------------------------------------------------------------------

def wait_job(api: httpx.Client, dock_status_id: str) -> dict[str, Any]:
    while (status := api.get(f"/api/public/dock-status/{dock_status_id}").json())["status"] \
            == "IN_PROGRESS":
        time.sleep(0.02)
    return dict(status)


def delete_model(api: httpx.Client, model_id: str) -> None:
    """Models are stored by content, so every import of the same file must be deleted
    before the next one, or the next one would find its file already stored."""
    r = api.delete(f"/api/public/models/{model_id}")
    r.raise_for_status()
    body = r.json()
    wait_job(api, body.get("dockStatusId") or body["_id"])

@dataclass
class Sample:
    mib_s: float
    seconds: float
    server_cpu_s_per_gib: float
    server_peak_mib: float
    client_peak_mib: float
    client_cpu_s_per_gib: float


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    wb: Server
    bare: Server
    tus: Server
    key: str
    files: dict[int, Path] = field(default_factory=dict)
    sums: dict[tuple[int, int], Path] = field(default_factory=dict)
    whole_sha: dict[int, str] = field(default_factory=dict)
    samples: dict[tuple[Any, ...], list[Sample]] = field(default_factory=lambda: defaultdict(list))
    imports: dict[int, list[dict[str, float]]] = field(default_factory=lambda: defaultdict(list))
    base: Server | None = None  # weighbridge at --compare-ref, measured side by side

    def api(self, server: Server | None = None) -> httpx.Client:
        server = server or self.wb
        return httpx.Client(base_url=server.url, headers={"X-api-key": server.key}, timeout=600)

    def _sample(self, server: Server, size: int, argv: list[str]) -> tuple[Sample, float]:
        settle()
        cpu0 = server.begin()
        out, _, client_cpu = run_child(argv)
        cpu, peak = server.end(cpu0)
        result = json.loads(out)
        seconds, client_peak = result["seconds"], result["peak_rss_mib"]
        gib = size / GiB
        return Sample(size / MiB / seconds, seconds, cpu / gib, peak, client_peak,
                      client_cpu / gib), seconds

    def start_session(self, size: int, chunk: int, sha256: str | None = None,
                      server: Server | None = None) -> str:
        body: dict[str, Any] = {"fileContext": "model", "totalChunks": -(-size // chunk),
                                "fileExtension": "safetensors", "fileName": "bench.safetensors",
                                "fileSize": size}
        if sha256:
            body["sha256"] = sha256
        with self.api(server) as api:
            r = api.post("/api/public/files/session/start", json=body)
            r.raise_for_status()
            return str(r.json()["sessionId"])

    def run_wb(self, size: int, chunk: int, par: int, form: str, *, measure_import: bool,
               base: bool = False) -> None:
        path = self.files[size]
        server = self.base if base and self.base else self.wb
        sid = self.start_session(size, chunk, self.whole_sha[size] if measure_import else None,
                                 server)
        sample, _ = self._sample(server, size, [
            PY, str(HERE / "send.py"), "chunks", "--form", form, "--url", server.url,
            "--file", str(path), "--chunk-bytes", str(chunk), "--parallel", str(par),
            "--key", server.key, "--session", sid, "--sums", str(self.sums[(size, chunk)])])
        self.samples[("base" if base else "wb", form, size, chunk, par)].append(sample)
        with self.api(server) as api:
            if measure_import:
                self.measure_import(api, sid, size)
            else:
                api.delete(f"/api/public/files/session/{sid}").raise_for_status()

    def measure_import(self, api: httpx.Client, sid: str, size: int) -> None:
        path = self.files[size]
        settle()
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
        sha_warm = time.perf_counter() - t0
        settle()
        cpu0 = self.wb.begin()
        t0 = time.perf_counter()
        r = api.post(f"/api/public/files/session/{sid}/complete")
        r.raise_for_status()
        status = wait_job(api, r.json()["dockStatusId"])
        seconds = time.perf_counter() - t0
        cpu, peak = self.wb.end(cpu0)
        if status["status"] != "SUCCESS":
            raise SystemExit(f"import failed: {status.get('error')}")
        delete_model(api, status["modelId"])
        # The same file read cold (dropped from the page cache), as the import reads its
        # chunks (which the server dropped from the cache when it stored them).
        with open(path, "rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
        sha_cold = time.perf_counter() - t0
        self.imports[size].append({"complete_to_success_s": seconds, "sha256sum_s": sha_warm,
                                   "sha256sum_cold_s": sha_cold, "server_cpu_s": cpu,
                                   "server_peak_mib": peak})

    def run_bare(self, size: int, chunk: int, par: int) -> None:
        sample, _ = self._sample(self.bare, size, [
            PY, str(HERE / "send.py"), "chunks", "--form", "bare", "--url", self.bare.url,
            "--file", str(self.files[size]), "--chunk-bytes", str(chunk),
            "--parallel", str(par)])
        self.samples[("bare", "raw", size, chunk, par)].append(sample)
        httpx.post(self.bare.url + "/reset", timeout=120).raise_for_status()

    def run_tus(self, size: int, chunk: int) -> None:
        sample, _ = self._sample(self.tus, size, [
            PY, str(HERE / "send.py"), "tus", "--url", self.tus.url,
            "--file", str(self.files[size]), "--chunk-bytes", str(chunk)])
        self.samples[("tus", "tus", size, chunk, 1)].append(sample)
        httpx.post(self.tus.url + "/reset", timeout=120).raise_for_status()

    def run_cli(self, size: int) -> None:
        settle()
        cpu0 = self.wb.begin()
        env = {"WEIGHBRIDGE_HOST": self.wb.url, "WEIGHBRIDGE_API_KEY": self.key,
               "XDG_STATE_HOME": str(self.work / "cli-state"),
               "XDG_CACHE_HOME": str(self.work / "cli-state"),
               "BENCH_RSS_FILE": str(self.work / "cli-rss")}
        out, wall, cpu = run_child(
            [PY, str(HERE / "cli_rss.py"), "import", str(self.files[size]), "--json"], env)
        peak = float((self.work / "cli-rss").read_text())
        server_cpu, server_peak = self.wb.end(cpu0)
        model = json.loads(out)
        model_id = model.get("modelId") or model.get("_id")
        if model_id:
            with self.api() as api:
                delete_model(api, model_id)
        self.samples[("cli", "cli", size, 0, 0)].append(Sample(
            size / MiB / wall, wall, server_cpu / (size / GiB), server_peak, peak,
            cpu / (size / GiB)))

    def run_small(self) -> dict[str, float]:
        small = self.work / "small.safetensors"
        make_safetensors(small, self.args.small_bytes)
        settle()
        cpu0 = self.wb.begin()
        out, _, _ = run_child([
            PY, str(HERE / "send.py"), "small", "--url", self.wb.url, "--key", self.key,
            "--file", str(small), "--concurrency", str(self.args.small_concurrency),
            "--seconds", str(self.args.small_seconds)])
        cpu, peak = self.wb.end(cpu0)
        result = json.loads(out)
        client_peak = result["peak_rss_mib"]
        return {"concurrency": self.args.small_concurrency, "chunk_bytes": self.args.small_bytes,
                "sessions": result["sessions"], "seconds": result["seconds"],
                "sessions_per_s": result["sessions"] / result["seconds"],
                "requests_per_s": 3 * result["sessions"] / result["seconds"],
                "server_cpu_s": cpu, "server_peak_mib": peak, "client_peak_mib": client_peak}


# -- report ------------------------------------------------------------------------------

def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(bench: Bench, small: dict[str, float] | None) -> dict[str, Any]:
    rows = []
    for key, samples in bench.samples.items():
        kind, form, size, chunk, par = key
        row: dict[str, Any] = {
            "kind": kind, "form": form, "size_mib": size // MiB, "chunk_mib": chunk // MiB,
            "parallel": par, "runs": len(samples),
            "mib_s": med([s.mib_s for s in samples]),
            "mib_s_all": [round(s.mib_s, 1) for s in samples],
            "server_cpu_s_per_gib": med([s.server_cpu_s_per_gib for s in samples]),
            "server_peak_mib": max(s.server_peak_mib for s in samples),
            "client_peak_mib": max(s.client_peak_mib for s in samples),
            "client_cpu_s_per_gib": med([s.client_cpu_s_per_gib for s in samples]),
        }
        if kind in ("wb", "base"):
            bare = bench.samples.get(("bare", "raw", size, chunk, par))
            tus = bench.samples.get(("tus", "tus", size, chunk, 1))
            row["x_bare"] = row["mib_s"] / med([s.mib_s for s in bare]) if bare else None
            row["x_tus"] = row["mib_s"] / med([s.mib_s for s in tus]) if tus else None
        rows.append(row)
    order = {"bare": 0, "tus": 1, "base": 2, "wb": 3, "cli": 4}
    rows.sort(key=lambda r: (r["size_mib"], order[r["kind"]], r["form"], r["chunk_mib"],
                             r["parallel"]))
    imports = []
    for size, runs in sorted(bench.imports.items()):
        c2s = med([r["complete_to_success_s"] for r in runs])
        warm = med([r["sha256sum_s"] for r in runs])
        cold = med([r["sha256sum_cold_s"] for r in runs])
        imports.append({"size_mib": size // MiB, "runs": len(runs),
                        "complete_to_success_s": c2s, "sha256sum_s": warm,
                        "sha256sum_cold_s": cold, "x_sha256sum": c2s / warm,
                        "x_sha256sum_cold": c2s / cold,
                        "server_cpu_s": med([r["server_cpu_s"] for r in runs]),
                        "server_peak_mib": max(r["server_peak_mib"] for r in runs)})
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "kernel": platform.release()},
        "args": {k: v for k, v in vars(bench.args).items() if k != "json"},
        "uploads": rows, "imports": imports, "small_sessions": small,
        "server_peak_mib_overall": {s.name: s.peak_overall
                                    for s in (bench.wb, bench.bare, bench.tus, bench.base) if s},
    }


def fmt_ratio(x: float | None) -> str:
    return "   —" if x is None else f"{x:5.2f}"


def print_table(result: dict[str, Any]) -> None:
    print(f"\nweighbridge upload benchmark — {result['date']}, {result['machine']['cpus']} CPUs, "
          f"{result['args']['reps']} interleaved runs, medians; ×bare/×tus: ratio of medians "
          "for the same size, chunk and parallelism (tus: sequential)")
    print(f"{'what':<22}{'size':>6}{'chunk':>6}{'par':>4}{'MiB/s':>8}{'×bare':>7}{'×tus':>7}"
          f"{'srv CPU':>9}{'srv RSS':>9}{'cli RSS':>9}{'cli CPU':>9}")
    print(f"{'':<22}{'MiB':>6}{'MiB':>6}{'':>4}{'':>8}{'':>7}{'':>7}"
          f"{'s/GiB':>9}{'MiB':>9}{'MiB':>9}{'s/GiB':>9}")
    names = {"bare": "(a) bare receiver", "tus": "(c) tuspyserver+tuspy", "cli": "weighbridge CLI"}
    for r in result["uploads"]:
        name = names.get(r["kind"], f"(b) weighbridge {r['form']}")
        if r["kind"] == "base":
            name = f"    before: {r['form']}"
        chunk = str(r["chunk_mib"]) if r["chunk_mib"] else "auto"
        par = str(r["parallel"]) if r["parallel"] else "4"
        print(f"{name:<22}{r['size_mib']:>6}{chunk:>6}{par:>4}{r['mib_s']:8.0f}"
              f"{fmt_ratio(r.get('x_bare')):>7}{fmt_ratio(r.get('x_tus')):>7}"
              f"{r['server_cpu_s_per_gib']:9.2f}{r['server_peak_mib']:9.0f}"
              f"{r['client_peak_mib']:9.0f}{r['client_cpu_s_per_gib']:9.2f}")
    print("\n(d) complete→SUCCESS vs one sha256sum of the same file (raw, 64 MiB chunks)")
    print(f"{'size MiB':>9}{'c→S s':>8}{'sha256sum s':>13}{'×sha':>7}{'cold sha s':>12}"
          f"{'×cold':>7}{'srv CPU s':>10}{'srv RSS':>9}")
    for r in result["imports"]:
        print(f"{r['size_mib']:>9}{r['complete_to_success_s']:8.2f}{r['sha256sum_s']:13.2f}"
              f"{r['x_sha256sum']:7.2f}{r['sha256sum_cold_s']:12.2f}{r['x_sha256sum_cold']:7.2f}"
              f"{r['server_cpu_s']:10.2f}{r['server_peak_mib']:9.0f}")
    s = result["small_sessions"]
    if s:
        print(f"\n(f) {s['concurrency']} concurrent small sessions ({s['chunk_bytes']} B chunk): "
              f"{s['sessions_per_s']:.1f} sessions/s = {s['requests_per_s']:.0f} requests/s "
              f"(start+chunk+complete); server peak RSS {s['server_peak_mib']:.0f} MiB")
    peaks = result["server_peak_mib_overall"]
    print("\n(e) server peak RSS over the whole run: "
          + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in peaks.items()))
    if result["args"].get("compare_ref"):
        print(f"    'before' rows: weighbridge at {result['args']['compare_ref']} "
              f"({result.get('compare_commit', '')[:12]}), same run")


# -- main --------------------------------------------------------------------------------

def start_base(ref: str, work: Path) -> tuple[str, Server]:
    """Start a second weighbridge from `src/` as of `ref` (PYTHONPATH wins over the
    editable install's path), for before/after figures from one run. Dependencies are
    this tree's, so `ref` should not be older than the last change to them."""
    repo = HERE.parent
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", ref], check=True,
                            capture_output=True, text=True).stdout.strip()
    dest = work / "base-src"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", commit, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    port = free_port()
    env = {"PYTHONPATH": str(dest / "src")}
    return commit, Server("weighbridge-before", [PY, "-m", "weighbridge", "serve", "--port",
                                                 str(port), "--data-dir", str(work / "base-data")],
                          port, env)


def create_key(data_dir: Path, env: dict[str, str] | None = None) -> str:
    return subprocess.run([PY, "-m", "weighbridge", "keys", "create", "--name", "bench",
                           "--data-dir", str(data_dir)], check=True, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}).stdout.strip()

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])

    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    p.add_argument("--sizes-mib", type=ints, default=[1024, 4096])
    p.add_argument("--chunks-mib", type=ints, default=[8, 64])
    p.add_argument("--parallel", type=ints, default=[1, 4])
    p.add_argument("--forms", type=lambda t: t.split(","), default=["raw", "multipart"])
    p.add_argument("--reps", type=int, default=2, help="interleaved runs of each figure")
    p.add_argument("--no-tus", action="store_true")
    p.add_argument("--no-cli", action="store_true")
    p.add_argument("--import-reps", type=int, default=None,
                   help="complete→SUCCESS measurements per size (default: --reps)")
    p.add_argument("--small-concurrency", type=int, default=50)
    p.add_argument("--small-seconds", type=float, default=10.0)
    p.add_argument("--small-bytes", type=int, default=64 * 1024)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 256 MiB, 64 MiB chunks, 1 run, 3 s of small sessions")
    p.add_argument("--compare-ref", default=None,
                   help="also measure weighbridge's src/ as of this git ref ('before' rows), "
                        "side by side")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where files and server data go (default: a temp dir, removed)")
    p.add_argument("--json", type=Path, default=HERE / "results" / "upload_bench.json")
    args = p.parse_args()
    if args.quick:
        args.sizes_mib, args.chunks_mib, args.reps, args.small_seconds = [256], [64], 1, 3.0
    if args.import_reps is None:
        args.import_reps = args.reps
    return args


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="weighbridge-bench-", dir=args.workdir))
    t_start = time.perf_counter()
    servers: list[Server] = []
    try:
        wb_dir = work / "wb"
        wb = Server("weighbridge", [PY, "-m", "weighbridge", "serve", "--port", str(port := free_port()),
                                    "--data-dir", str(wb_dir)], port)
        servers.append(wb)
        bare = Server("bare", [PY, str(HERE / "receivers.py"), "bare", "--port",
                               str(port := free_port()), "--dir", str(work / "bare")], port)
        servers.append(bare)
        tus = Server("tus", [PY, str(HERE / "receivers.py"), "tus", "--port",
                             str(port := free_port()), "--dir", str(work / "tus")], port)
        servers.append(tus)
        base_commit = ""
        base = None
        if args.compare_ref:
            base_commit, base = start_base(args.compare_ref, work)
            servers.append(base)
        wb.key = create_key(wb_dir)
        if base:
            base.key = create_key(work / "base-data", base.env)
        bench = Bench(args, work, wb, bare, tus, wb.key)
        bench.base = base
        print(f"preparing files {args.sizes_mib} MiB in {work}", file=sys.stderr)
        with ThreadPoolExecutor(2) as pool:
            for size_mib in args.sizes_mib:
                size = size_mib * MiB
                bench.files[size] = work / f"bench-{size_mib}.safetensors"
                make_safetensors(bench.files[size], size)
                bench.whole_sha[size] = pool.submit(file_sha256, bench.files[size]).result()
                futures = {c: pool.submit(chunk_sums, bench.files[size], c * MiB)
                           for c in args.chunks_mib}
                for c, fut in futures.items():
                    p = work / f"sums-{size_mib}-{c}.json"
                    p.write_text(json.dumps(fut.result()))
                    bench.sums[(size, c * MiB)] = p

        for rep in range(args.reps):
            for size_mib in args.sizes_mib:
                size = size_mib * MiB
                plan: list[tuple[str, Any]] = []
                for c in args.chunks_mib:
                    for par in args.parallel:
                        plan.append(("bare", (size, c * MiB, par)))
                        for form in args.forms:
                            plan.append(("wb", (size, c * MiB, par, form)))
                            if base:
                                plan.append(("base", (size, c * MiB, par, form)))
                    if not args.no_tus:
                        plan.append(("tus", (size, c * MiB)))
                # Rotate the order each repetition so no figure always runs first or last.
                shift = (rep * len(plan)) // max(args.reps, 1)
                plan = plan[shift:] + plan[:shift]
                for kind, spec in plan:
                    print(f"rep {rep + 1}/{args.reps} {kind} {spec}", file=sys.stderr)
                    if kind == "bare":
                        bench.run_bare(*spec)
                    elif kind == "tus":
                        bench.run_tus(*spec)
                    elif kind == "base":
                        bench.run_wb(*spec, measure_import=False, base=True)
                    else:
                        s, c, par, form = spec
                        measure = (form == "raw" and c == max(args.chunks_mib) * MiB
                                   and par == max(args.parallel) and rep < args.import_reps)
                        bench.run_wb(s, c, par, form, measure_import=measure)
                if not args.no_cli and rep == 0:
                    print(f"rep {rep + 1}/{args.reps} cli {size_mib} MiB", file=sys.stderr)
                    bench.run_cli(size)
        small = None
        if args.small_concurrency > 0 and args.small_seconds > 0:
            print("small sessions", file=sys.stderr)
            small = bench.run_small()
        result = summarise(bench, small)
        result["bench_seconds"] = time.perf_counter() - t_start
        result["compare_commit"] = base_commit
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    print_table(result)
    print(f"\nbenchmark took {result['bench_seconds']:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
