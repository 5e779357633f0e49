"""HTTP throughput and latency of GET /sample?n=10 against the cheapest JSON endpoint (/healthz).

Starts the real service (`python -m app.http.serve`) on 127.0.0.1 at a free port, loads it with wrk
(32 connections, a fixed duration; installed with apt-get if missing, else a bounded Python load
generator), prints requests/s, p50/p99 latency, the ratio and the bar, and stops the server.
A third run repeats one seed: after its first request every context it needs is cached, so it measures
the request path without the network (benchmarks/bench_network_cost.py measures the network's part).
Figures only, no assertions. Run: .venv/bin/python benchmarks/bench_http.py [--workers 1 --duration 8]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from revisions import REPO, checkout, describe, models_note, serve_module, this_tree

BAR = 0.6  # /sample?n=10 throughput must be at least this fraction of /healthz's
CONNECTIONS = 32
ONE_SEED = "/sample?n=10&seed=1"  # the same 10 names every time: no cache misses after the first request


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True, timeout=300, check=False)
    return shutil.which("wrk")


def start_server(port: int, workers: int, root: Path = REPO) -> subprocess.Popen[bytes]:
    """The service with its own defaults (threads, cache, warm-up), except the worker count and quiet logs.

    `root`: another checkout of the repository (revisions.checkout) to serve instead, with this venv."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        "NAMEGEN_HOST": "127.0.0.1",
        "NAMEGEN_PORT": str(port),
        "NAMEGEN_WORKERS": str(workers),
        "NAMEGEN_LOOP": "uvloop",
        "NAMEGEN_HTTP": "httptools",
        "NAMEGEN_LOG_LEVEL": "warning",  # no per-request access log line while measuring
    }
    command = [sys.executable, "-m", serve_module(root)]
    server = subprocess.Popen(command, cwd=root, env=env, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with code {server.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(server)
    raise SystemExit("server not ready after 90 s")


@dataclass
class Served:
    port: int
    pid: int  # with 1 worker, the process that serves (its re-execution keeps the pid)


def start_servers(stack: ExitStack, before: str | None, after: str | None = None) -> dict[str, Served]:
    """Each revision's service by label, 1 worker, the same settings: `before` when given, then `after`
    (default: this working tree). Each is stopped, and its checkout removed, when `stack` closes."""
    served: dict[str, Served] = {}
    for role, revision in (("before", before), ("after", after)):
        if revision is None and role == "before":
            continue
        root = REPO if revision is None else stack.enter_context(checkout(revision))
        label = f"this tree {this_tree()}" if revision is None else f"{role} {revision}"
        print(f"{label}: {'the working tree' if revision is None else describe(revision)}; {models_note(root)}")
        port = free_port()
        server = start_server(port, workers=1, root=root)
        stack.callback(stop_server, server)
        served[label] = Served(port, server.pid)
    return served


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the supervisor and its workers
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_wrk(wrk: str, url: str, seconds: int) -> Load:
    out = subprocess.run(
        [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout

    def millis(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Load(rps, millis("50%"), millis("99%"), errors, done)


def run_python_load(port: int, path: str, seconds: int) -> Load:
    """Fallback: CONNECTIONS keep-alive threads for `seconds`; slower than wrk, same for both endpoints."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cuts = statistics.quantiles(latencies, n=100)
    return Load(len(latencies) / seconds, cuts[49] * 1000, cuts[98] * 1000, errors[0], len(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (the service's default: 1)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per endpoint")
    args = parser.parse_args()
    wrk = ensure_wrk()
    port = free_port()
    server = start_server(port, args.workers)
    try:
        results = {}
        for path in ("/healthz", "/sample?n=10", ONE_SEED):
            url = f"http://127.0.0.1:{port}{path}"
            results[path] = run_wrk(wrk, url, args.duration) if wrk else run_python_load(port, path, args.duration)
    finally:
        stop_server(server)
    print(
        f"server: python -m app.http.serve, {args.workers} worker(s), service default threads, "
        f"uvloop + httptools; load: {'wrk' if wrk else 'python threads'}, {CONNECTIONS} connections, "
        f"{args.duration} s per endpoint"
    )
    for path, load in results.items():
        print(
            f"{path:<19} {load.requests_per_second:9.0f} req/s   p50 {load.p50_ms:7.2f} ms   "
            f"p99 {load.p99_ms:7.2f} ms   non-2xx {load.errors}"
        )
    floor = results["/healthz"].requests_per_second
    ratio = results["/sample?n=10"].requests_per_second / floor
    print(f"/sample?n=10 throughput / /healthz throughput = {ratio:.2f}  (bar >= {BAR})")
    cached = results[ONE_SEED].requests_per_second / floor
    print(f"{ONE_SEED} (every context cached) / /healthz = {cached:.2f}  (the request path without the network)")


if __name__ == "__main__":
    main()
