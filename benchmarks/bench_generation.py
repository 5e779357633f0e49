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
4. GET /sample?n=10 (random seeds) under 32 connections (wrk) against /healthz, the cheapest JSON endpoint, in
   short rounds (each round's ratio from two runs seconds apart); medians and ranges over the rounds.
With --before REV, figure 4 is measured on REV's service too (revisions.py: a `git archive` of REV, served with
this venv and the same settings), both servers up at once and loaded in turns, printed side by side.
--only http-ratio runs figure 4 alone (about 2 minutes with --before).
Figures only, no assertions. Run: .venv/bin/python benchmarks/bench_generation.py [--before 1a6c0c8]
bench_sampling.py, bench_scoring.py, bench_http.py, bench_network_cost.py and bench_request_cost.py break these
figures down further.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass

from bench_http import CONNECTIONS, Load, ensure_wrk, run_python_load, run_wrk, start_servers

HTTP_BAR = 0.25  # issue #13: random-seed /sample?n=10 at this fraction of /healthz's throughput
DEV_LOSS_BAR = 1.95
SAMPLE, HEALTH = "/sample?n=10", "/healthz"


def request(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> dict:
    payload = None if body is None else json.dumps(body)
    headers = {} if body is None else {"Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"{method} {path}: HTTP {response.status}: {data[:200]!r}")
    return dict(json.loads(data))


def toolkit_figures(port: int, args: argparse.Namespace) -> None:
    """Figures 1-3 against the service on `port`, printed."""
    # Imported here: figure 4 needs none of the engine, so --only http-ratio runs whatever its API is today.
    from bench_sampling import BAR as SAMPLING_BAR
    from bench_sampling import LECTURE_SETTINGS, lecture_baseline
    from bench_scoring import BAR as SCORING_BAR
    from bench_scoring import YARDSTICK_SETTINGS, dev_words, windows_of, yardstick_module, yardstick_seconds

    from app.engine.artifact import load_artifact
    from app.engine.store import chosen_model_file
    from app.settings import Settings

    settings = Settings()
    artifact = load_artifact(chosen_model_file(settings.model_path, settings.default_model))
    yardstick = yardstick_module()
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

    print(
        f"model {artifact.path.name}; context cache {settings.cache_contexts:,} slots per model, warmed with "
        f"{settings.warm_names:,} names"
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
        f"(bar <= {DEV_LOSS_BAR}; meta.json dev_loss {artifact.meta.dev_loss})"
    )


@dataclass
class Round:
    sample: Load
    health: Load

    @property
    def ratio(self) -> float:
        return self.sample.requests_per_second / self.health.requests_per_second


def http_rounds(ports: dict[str, int], rounds: int, seconds: int) -> tuple[dict[str, list[Round]], str]:
    """Figure 4 on every server: per round, each server's /healthz then /sample?n=10, the servers' order reversed
    every other round so that neither always runs first. Returns the rounds per server and the load generator."""
    wrk = ensure_wrk()

    def load(port: int, path: str, duration: int) -> Load:
        url = f"http://127.0.0.1:{port}{path}"
        return run_wrk(wrk, url, duration) if wrk else run_python_load(port, path, duration)

    for port in ports.values():  # the first connections and the first contexts of this load, untimed
        load(port, HEALTH, 1)
        load(port, SAMPLE, 1)
    results: dict[str, list[Round]] = {label: [] for label in ports}
    for number in range(rounds):
        order = list(ports) if number % 2 == 0 else list(reversed(ports))
        for label in order:
            health = load(ports[label], HEALTH, seconds)
            results[label].append(Round(load(ports[label], SAMPLE, seconds), health))
    return results, "wrk" if wrk else "python threads"


def spread(values: list[float], digits: int) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered):.{digits}f} ({ordered[0]:.{digits}f}-{ordered[-1]:.{digits}f})"


def print_http_rounds(results: dict[str, list[Round]], generator: str, seconds: int) -> None:
    rounds = len(next(iter(results.values())))
    turns = ", the servers taking turns" if len(results) > 1 else ""
    print(
        f"4. GET {SAMPLE} (random seeds) vs {HEALTH}, {CONNECTIONS} connections, {generator}, {rounds} rounds of "
        f"{seconds} s per endpoint{turns}; median (range) over the rounds:"
    )
    width = max(len(label) for label in results)
    print(f"   {'server':<{width}}  {SAMPLE + ' req/s':>20}  {HEALTH + ' req/s':>22}  {'ratio':>17}  {SAMPLE} p50 ms")
    for label, measured in results.items():
        print(
            f"   {label:<{width}}  {spread([r.sample.requests_per_second for r in measured], 0):>20}  "
            f"{spread([r.health.requests_per_second for r in measured], 0):>22}  "
            f"{spread([r.ratio for r in measured], 3):>17}  {spread([r.sample.p50_ms for r in measured], 1)}"
        )
        errors = sum(r.sample.errors + r.health.errors for r in measured)
        if errors:
            print(f"   {'':<{width}}  non-2xx responses: {errors}")
    if len(results) == 2:
        before, after = results.values()
        paired = [a.ratio / b.ratio for a, b in zip(after, before, strict=True)]  # each round's two, seconds apart
        print(f"   ratio after / before, round by round: {spread(paired, 2)}")
    label, measured = list(results.items())[-1]
    ratio = statistics.median(r.ratio for r in measured)
    print(f"   bar: {SAMPLE} >= {HTTP_BAR} x {HEALTH}: {label} {'meets' if ratio >= HTTP_BAR else 'misses'} it")
    averages = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"   load average at the end (1, 5, 15 min): {averages} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", metavar="REV", help="a git revision whose service figure 4 measures too")
    parser.add_argument("--after", metavar="REV", help="measure this revision instead of the working tree")
    parser.add_argument("--only", choices=["http-ratio"], help="run figure 4 alone")
    parser.add_argument("--duration", type=int, default=4, help="seconds of wrk per endpoint and round (figure 4)")
    parser.add_argument("--http-rounds", type=int, default=5, help="rounds of figure 4")
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

    overrides = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("NAMEGEN_"))
    print(
        f"server: python -m app.http.serve (or a revision's own serve module), 1 worker, "
        f"{'its defaults' if not overrides else 'set from the environment: ' + ' '.join(overrides)}"
    )
    with ExitStack() as stack:
        ports = {label: served.port for label, served in start_servers(stack, args.before, args.after).items()}
        if not args.only:
            toolkit_figures(list(ports.values())[-1], args)
        results, generator = http_rounds(ports, args.http_rounds, args.duration)
    print_http_rounds(results, generator, args.duration)


if __name__ == "__main__":
    main()
