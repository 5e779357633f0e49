"""Load benchmark: a real `python -m app.http.serve` on loopback, a fixed number of concurrent connections for a
fixed time, a mix of /sample and /score requests.

Prints throughput, p50/p99 latency, the error count (bar: 0), the server's resident memory after warm-up and at
the end (bar: growth under 10 %), and checks that one seed gives one list of names whichever worker answers.
Exits 1 when a bar is missed.

    python benchmarks/bench_load.py [--seconds 60] [--connections 64] [--workers 1]

With --hostile the same mix runs while hostile clients attack the server on loopback, all at once and for the
same --seconds (issues #11, #20): endless headers (connections sending a huge header slowly, never finishing),
silent sockets (nothing at all, half a request line, or a body shorter than its Content-Length), huge batches
(/score/batch of 1000 texts of 64 characters, several at a time), abandoned heavy samples (a slow /sample whose
client leaves after 1 s), the normalization attack (a MiB of combining marks in reverse canonical order to /score
and /score/batch, and a batch of 1000 such texts at the raw cap) and the fold flood (a MiB of "É" to /score, and
1000 texts of 256 "É"). It prints, beside the mix: each hostile kind's outcomes (status codes, resets, closes,
timeouts, time to the answer), the latency of small requests (/score emma, /sample?n=10 and /healthz, p50/p99),
and the server's RSS and open file descriptors every few seconds. Every hostile client is bounded in
connections and time. The memory, error and determinism bars do not apply; it exits 1 only when some answer is
a 5xx other than 503 (or the bench itself fails).

    python benchmarks/bench_load.py --hostile [--seconds 60] [--silent 800] [--header-floods 18]
    python benchmarks/bench_load.py --hostile --silent 0 --header-floods 0 --batches 0 --abandoned 0  # #20 only

The load generator is asyncio + httpx in this process, so on a small machine it competes with the server for
CPU: throughput is a floor, not the server's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["emma", "olivia", "sophia", "liam", "noah", "zxqv", "kaylee", "arabella", "jo", "maximiliano"]
DETERMINISM_PARAMS = {"n": 10, "seed": 424242}
MAX_MEMORY_GROWTH = 0.10
RSS_INTERVAL = 10.0  # seconds between the RSS readings printed as a trajectory


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)  # "POST /score 503", "GET /sample ReadTimeout"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def resident_kib(pid: int) -> int:
    """VmRSS of a process and all its descendants (the uvicorn workers), from /proc."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
        pending += [int(child) for child in children]
    return total


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NAMEGEN_HOST": "127.0.0.1", "NAMEGEN_PORT": str(port), "NAMEGEN_WORKERS": str(workers),
           "NAMEGEN_LOG_LEVEL": "warning"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "app.http.serve"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("server not ready within 90 s")


def one_request(rng: random.Random) -> tuple[str, str, dict[str, object]]:
    """The mix: 50 % /sample (n 1-20), 35 % /score, 15 % /score/batch (2-16 texts)."""
    roll = rng.random()
    if roll < 0.5:
        return "GET", "/sample", {"params": {"n": rng.randint(1, 20), "seed": rng.randrange(2**32)}}
    if roll < 0.85:
        return "POST", "/score", {"json": {"text": rng.choice(TEXTS)}}
    return "POST", "/score/batch", {"json": {"texts": rng.choices(TEXTS, k=rng.randint(2, 16))}}


async def connection_loop(client: httpx.AsyncClient, stop_at: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        method, path, kwargs = one_request(rng)
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
            problem = None if response.status_code == 200 else str(response.status_code)
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        tally.latencies.append(time.perf_counter() - started)
        tally.by_route[path] = tally.by_route.get(path, 0) + 1
        if problem is not None:
            tally.errors += 1
            kind = f"{method} {path} {problem}"
            tally.error_kinds[kind] = tally.error_kinds.get(kind, 0) + 1


async def load(base_url: str, connections: int, seconds: float, tally: Tally) -> float:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(connection_loop(client, stop_at, seed, tally) for seed in range(connections)))
        return time.monotonic() - started


def names_per_fresh_connection(base_url: str, count: int) -> set[tuple[str, ...]]:
    """Distinct answers to one seeded request, each on a new connection (so any worker may answer)."""
    answers = set()
    for _ in range(count):
        names = httpx.get(f"{base_url}/sample", params=DETERMINISM_PARAMS, timeout=30).json()["names"]
        answers.add(tuple(names))
    return answers


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---- hostile mode (--hostile) ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured run (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured load before the run (default 5 s)")
    hostile = parser.add_argument_group("hostile mode")
    hostile.add_argument("--hostile", action="store_true", help="attack the server while the mix runs")
    hostile.add_argument("--silent", type=int, default=800, help="silent sockets held open at once (default 800)")
    hostile.add_argument("--header-floods", type=int, default=18, help="endless-header connections (default 18)")
    hostile.add_argument("--batches", type=int, default=8, help="concurrent huge /score/batch clients (default 8)")
    hostile.add_argument("--abandoned", type=int, default=8, help="abandoned heavy-sample clients (default 8)")
    hostile.add_argument(
        "--normalization", type=int, default=4, help="clients posting reordered combining marks (default 4)"
    )
    hostile.add_argument("--fold-floods", type=int, default=8, help="clients posting a MiB of 'É' (default 8)")
    hostile.add_argument(
        "--calm", type=float, default=10.0, help="seconds of the mix alone before the attack, the probe's baseline"
    )
    args = parser.parse_args()
    if args.hostile:
        from hostile import run_hostile  # the attackers live in their own module

        return run_hostile(args)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.workers)
    try:
        before = names_per_fresh_connection(base_url, 20)
        asyncio.run(load(base_url, args.connections, args.warmup, Tally()))
        rss_start = resident_kib(server.pid)
        trajectory: list[int] = []  # RSS every RSS_INTERVAL seconds of the run: a plateau, or steady growth?
        done = threading.Event()

        def watch() -> None:
            while not done.wait(RSS_INTERVAL):
                trajectory.append(resident_kib(server.pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        tally = Tally()
        elapsed = asyncio.run(load(base_url, args.connections, args.seconds, tally))
        done.set()
        watcher.join()
        rss_end = resident_kib(server.pid)
        after = names_per_fresh_connection(base_url, 20)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)

    requests = len(tally.latencies)
    growth = (rss_end - rss_start) / rss_start
    deterministic = len(before | after) == 1
    print(f"load: {args.connections} connections for {elapsed:.1f} s against {args.workers} worker(s) on 127.0.0.1")
    print(f"requests     {requests}  ({', '.join(f'{k} {v}' for k, v in sorted(tally.by_route.items()))})")
    print(f"throughput   {requests / elapsed:.1f} req/s")
    print(f"latency      p50 {percentile(tally.latencies, 0.5) * 1000:.1f} ms   "
          f"p99 {percentile(tally.latencies, 0.99) * 1000:.1f} ms   "
          f"mean {statistics.fmean(tally.latencies) * 1000:.1f} ms")  # fmt: skip
    kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(tally.error_kinds.items()))
    print(f"errors       {tally.errors}  (bar: 0){'  ' + kinds if kinds else ''}")
    print(f"server RSS   {rss_start / 1024:.1f} MiB after warm-up -> {rss_end / 1024:.1f} MiB at end  "
          f"({growth * 100:+.1f} %, bar: < {MAX_MEMORY_GROWTH * 100:.0f} %)")  # fmt: skip
    print(f"RSS every {RSS_INTERVAL:.0f} s  " + " ".join(f"{kib / 1024:.0f}" for kib in trajectory) + " MiB")
    print(f"same seed    {'one answer' if deterministic else f'{len(before | after)} different answers'} "
          f"across 40 fresh connections (bar: one)")  # fmt: skip
    failed = tally.errors > 0 or growth >= MAX_MEMORY_GROWTH or not deterministic
    print("RESULT       " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
