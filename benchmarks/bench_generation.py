"""The generation toolkit's speed figures, all in one run on one model and one running service.

Starts the service as it runs by default (`python -m app.http.serve`: 1 worker, its own thread settings, its
startup warm-up) and prints, each beside its baseline and bar:
1. names/s of GET /sample?n=1000 over HTTP (new seeds, one request at a time), against the lectures'
   one-name-at-a-time loop over the shipped model (bench_sampling.lecture_baseline: 1 torch thread, the
   service's executor mode, warmed up), run here while the server idles; the two take turns, and the ratio
   is each round's, so both figures of a ratio see the same machine load. (Not over the random-weight yardstick:
   its near-uniform predictions draw names about four times longer, so its names/s is no baseline.)
2. POST /score/batch of 1000 names against a plain in-process TorchScript forward, one thread, over the same
   windows, of the fixed yardstick model (bench_scoring.py: random weights, shaped like the pre-#13 ensemble);
3. the dev split's mean loss (nats/char, end token included) through POST /score/batch;
4. GET /sample?n=10 (random seeds) under 32 connections (wrk) against /healthz, the cheapest JSON endpoint.
Figures only, no assertions. Run: .venv/bin/python benchmarks/bench_generation.py [--duration 8]
bench_sampling.py, bench_scoring.py, bench_http.py and bench_network_cost.py break these figures down further.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import time

from bench_http import ensure_wrk, free_port, run_python_load, run_wrk, start_server, stop_server
from bench_sampling import BAR as SAMPLING_BAR
from bench_sampling import LECTURE_SETTINGS, lecture_baseline
from bench_scoring import BAR as SCORING_BAR
from bench_scoring import YARDSTICK_SETTINGS, dev_words, windows_of, yardstick_module, yardstick_seconds

from app.engine.artifact import load_artifact
from app.engine.store import chosen_model_file
from app.settings import Settings

HTTP_BAR = 0.25  # issue #13: random-seed /sample?n=10 at this fraction of /healthz's throughput
DEV_LOSS_BAR = 1.95


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
    parser.add_argument("--rounds", type=int, default=5, help="turns of the lecture loop and GET /sample?n=1000")
    parser.add_argument("--requests", type=int, default=5, help="GET /sample?n=1000 requests timed per round")
    parser.add_argument("--score-repeats", type=int, default=7, help="POST /score/batch requests timed (median)")
    parser.add_argument(
        "--lecture-model",
        help="another artifact to run the lecture loop over too, e.g. the same weights in the pre-#13 layout "
        "(embedding, concatenation, per-member matmuls: the lectures' forward)",
    )
    args = parser.parse_args()

    settings = Settings()
    artifact = load_artifact(chosen_model_file(settings))
    yardstick = yardstick_module()
    port = free_port()
    server = start_server(port, workers=1)
    try:
        other = load_artifact(args.lecture_model) if args.lecture_model else None
        lecture_other = lecture_baseline(other.module, other.block_size, args.baseline_names) if other else None

        # The lecture loop (in this process, while the server idles) and GET /sample?n=1000 take turns, round
        # by round, so each ratio compares two figures measured within seconds of each other: the machine's
        # load drifts by tens of percent over a minute, and a baseline from another moment moves the ratio.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        request(conn, "GET", "/sample?n=1000&seed=1")  # first request on the connection
        seeds = iter(range(10**9, 10**10))  # seeds the warm-up never used
        pairs = []
        for _ in range(args.rounds):
            lecture_round = lecture_baseline(artifact.module, artifact.block_size, args.baseline_names, repeats=1)
            started = time.perf_counter()
            for _ in range(args.requests):
                request(conn, "GET", f"/sample?n=1000&seed={next(seeds)}")
            pairs.append((lecture_round, 1000 * args.requests / (time.perf_counter() - started)))
        lecture = statistics.median(p[0] for p in pairs)
        sampled = statistics.median(p[1] for p in pairs)
        ratios = sorted(p[1] / p[0] for p in pairs)

        names = request(conn, "GET", "/sample?n=1000&seed=3")["names"]
        names = [n["name"] if isinstance(n, dict) else n for n in names]
        request(conn, "POST", "/score/batch", {"texts": names})  # first scoring request
        batch_seconds = []
        for _ in range(args.score_repeats):
            started = time.perf_counter()
            request(conn, "POST", "/score/batch", {"texts": names})
            batch_seconds.append(time.perf_counter() - started)
        score_batch = statistics.median(batch_seconds)
        forward = yardstick_seconds(yardstick, windows_of(names, artifact.vocab, artifact.block_size))

        total = count = 0.0
        dev = dev_words()
        for start in range(0, len(dev), settings.max_batch):
            for result in request(conn, "POST", "/score/batch", {"texts": dev[start : start + settings.max_batch]})[
                "results"
            ]:
                total += result["total_loss"]
                count += len(result["chars"])
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

    overrides = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("NAMEGEN_"))
    print(
        f"model {artifact.path.name}; server: python -m app.http.serve, 1 worker, "
        f"{'its defaults' if not overrides else 'set from the environment: ' + ' '.join(overrides)}; "
        f"context cache {settings.cache_contexts:,} slots per model, warmed with {settings.warm_names:,} names"
    )
    print(f"1. lecture loop, 1 name at a time ({LECTURE_SETTINGS}):")
    print(f"   {args.rounds} rounds: the lecture loop ({args.baseline_names} names), then {args.requests} requests")
    print(f"   lecture loop over the shipped model:     {lecture:10.0f} names/s (median of the rounds)")
    print(f"   GET /sample?n=1000 over HTTP:             {sampled:10.0f} names/s (median of the rounds)")
    print(
        f"   ratio, round by round: median {statistics.median(ratios):5.1f}x (range {ratios[0]:.1f}-{ratios[-1]:.1f}x) "
        f"the lecture loop  (bar >= {SAMPLING_BAR:.0f}x)"
    )
    if other is not None and lecture_other is not None:
        print(
            f"   lecture loop over {other.path.name}: {lecture_other:.0f} names/s; GET /sample?n=1000 = "
            f"{sampled / lecture_other:5.1f}x it"
        )
    print(f"2. POST /score/batch, 1000 names ({len(windows_of(names, artifact.vocab, artifact.block_size))} windows):")
    print(f"   yardstick forward ({YARDSTICK_SETTINGS}): {forward * 1e3:.1f} ms")
    print(
        f"   /score/batch over HTTP: {score_batch * 1e3:.1f} ms (median of {args.score_repeats}) = "
        f"{forward / score_batch:4.2f}x the yardstick's {forward * 1e3:.1f} ms  (bar >= {SCORING_BAR:.0f}x)"
    )
    print(
        f"3. dev split through /score/batch: {total / count:.5f} nats/char over {count:.0f} windows  "
        f"(bar <= {DEV_LOSS_BAR}; meta.json dev_loss {artifact.meta['dev_loss']})"
    )
    health, sample = loads["/healthz"], loads["/sample?n=10"]
    print(f"4. 32 connections, {'wrk' if wrk else 'python threads'}, {args.duration} s each:")
    for label, load in (("/healthz", health), ("/sample?n=10", sample)):
        print(
            f"   {label:<13} {load.requests_per_second:9.0f} req/s   p50 {load.p50_ms:7.2f} ms   "
            f"p99 {load.p99_ms:7.2f} ms   non-2xx {load.errors}"
        )
    ratio = sample.requests_per_second / health.requests_per_second
    print(
        f"   /sample?n=10 / /healthz = {ratio:.2f} of /healthz's {health.requests_per_second:.0f} req/s  "
        f"(bar >= {HTTP_BAR})"
    )


if __name__ == "__main__":
    main()
