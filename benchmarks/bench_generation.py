"""The generation toolkit's speed figures, all in one run on one model and one running service.

Starts the service as it runs by default (`python -m app.serve`: 1 worker, its own thread settings, its
startup warm-up) and prints, each beside its baseline and bar:
1. names/s of GET /sample?n=1000 over HTTP (new seeds, one request at a time), against the lectures'
   one-name-at-a-time loop over the same TorchScript model on one thread, run here while the server idles;
2. POST /score/batch of 1000 names, in milliseconds;
3. GET /sample?n=10 under 32 connections (wrk) against /healthz, the cheapest JSON endpoint, on the same server.
Figures only, no assertions. Run: .venv/bin/python benchmarks/bench_generation.py [--duration 8]
bench_sampling.py, bench_http.py and bench_network_cost.py break these figures down further.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time

import torch
from bench_http import BAR as HTTP_BAR
from bench_http import ensure_wrk, free_port, run_python_load, run_wrk, start_server, stop_server
from bench_sampling import BAR as SAMPLING_BAR
from bench_sampling import best_of, lecture_loop

from app.engine.artifact import load_artifact
from app.settings import Settings


def request(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> dict:
    payload = None if body is None else json.dumps(body)
    headers = {} if body is None else {"Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"{method} {path}: HTTP {response.status}: {data[:200]!r}")
    return dict(json.loads(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds of wrk per endpoint")
    parser.add_argument("--baseline-names", type=int, default=200, help="names drawn by the lecture loop")
    parser.add_argument("--requests", type=int, default=20, help="GET /sample?n=1000 requests timed")
    args = parser.parse_args()

    settings = Settings()
    artifact = load_artifact(settings.model_path)
    port = free_port()
    server = start_server(port, workers=1)
    try:
        torch.set_num_threads(1)
        lecture_loop(artifact.module, artifact.block_size, 5, 0)  # warm
        baseline = args.baseline_names / best_of(
            2, lambda: lecture_loop(artifact.module, artifact.block_size, args.baseline_names, 1)
        )

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        request(conn, "GET", "/sample?n=1000&seed=1")  # first request on the connection
        started = time.perf_counter()
        for seed in range(10**9, 10**9 + args.requests):  # seeds the warm-up never used
            request(conn, "GET", f"/sample?n=1000&seed={seed}")
        sampled = 1000 * args.requests / (time.perf_counter() - started)

        names = request(conn, "GET", "/sample?n=1000&seed=3")["names"]
        batch_ms = []
        for _ in range(5):
            started = time.perf_counter()
            request(conn, "POST", "/score/batch", {"texts": names})
            batch_ms.append((time.perf_counter() - started) * 1000)
        conn.close()

        wrk = ensure_wrk()
        loads = {
            path: run_wrk(wrk, f"http://127.0.0.1:{port}{path}", args.duration)
            if wrk
            else run_python_load(port, path, args.duration)
            for path in ("/healthz", "/sample?n=10")
        }
    finally:
        stop_server(server)

    print(f"model {artifact.path.name}; server: python -m app.serve with its defaults (1 worker)")
    print(f"1. lecture loop, 1 name at a time, 1 thread:   {baseline:10.0f} names/s")
    print(
        f"   GET /sample?n=1000 over HTTP:                {sampled:10.0f} names/s  = {sampled / baseline:5.1f}x  "
        f"(bar >= {SAMPLING_BAR:.0f}x)"
    )
    print(f"2. POST /score/batch, 1000 names:              {statistics.median(batch_ms):10.1f} ms (median of 5)")
    health, sample = loads["/healthz"], loads["/sample?n=10"]
    print(f"3. 32 connections, {'wrk' if wrk else 'python threads'}, {args.duration} s each:")
    for label, load in (("/healthz", health), ("/sample?n=10", sample)):
        print(
            f"   {label:<13} {load.requests_per_second:9.0f} req/s   p50 {load.p50_ms:7.2f} ms   "
            f"p99 {load.p99_ms:7.2f} ms   non-2xx {load.errors}"
        )
    ratio = sample.requests_per_second / health.requests_per_second
    print(f"   /sample?n=10 / /healthz = {ratio:.2f}  (bar >= {HTTP_BAR})")


if __name__ == "__main__":
    main()
