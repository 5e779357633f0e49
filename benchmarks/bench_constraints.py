"""Constrained generation against one running service: names/s with guided masking, against unconstrained
GET /sample?n=1000 and against rejection sampling from the same model within the same time budget.

Starts the service as it runs by default (`python -m app.http.serve`, 1 worker, its warm-up) and, for a common
constraint (ends with "son"), a rare one (ends with "xyz") and a pattern ("[aeiou][a-z]*[aeiou]"):
1. the first request (it compiles the automaton: the pattern's in a worker process);
2. round by round, GET /sample?n=1000 unconstrained and constrained taking turns (new seeds each), so each
   ratio compares two figures measured within seconds of each other (bar: constrained at most 3x the time);
3. rejection sampling: unconstrained /sample?n=1000 requests, filtered here, repeated for as long as the
   constrained requests took, and the names that satisfy the constraint per second;
4. exact=true (importance resampling over 10 candidates per name) and similar_to: their time against the
   guided request's, and exact's effective sample size.
With --libraries, the pattern libraries considered (interegular, greenery, outlines-core) compile a few patterns
in this process, those installed. Figures only, no assertions.
Run: .venv/bin/python benchmarks/bench_constraints.py [--rounds 5 --requests 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import string
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from bench_http import free_port, start_server, stop_server

BAR = 3.0  # issue #22: constrained n=1000 at most 3x the time of unconstrained n=1000
CASES: dict[str, tuple[dict[str, str], Callable[[str], bool]]] = {
    "suffix=son": ({"suffix": "son"}, lambda name: name.endswith("son")),
    "suffix=xyz": ({"suffix": "xyz"}, lambda name: name.endswith("xyz")),
    "pattern=[aeiou][a-z]*[aeiou]": (
        {"pattern": "[aeiou][a-z]*[aeiou]"},
        lambda name: re.fullmatch("[aeiou][a-z]*[aeiou]", name) is not None,
    ),
}
LIBRARY_PATTERNS = ["[aeiou][a-z]*[aeiou]", "(ka|lo|mi)+(son|ton)?", "[^aeiou]*a[^aeiou]*", "(a|b)*a(a|b){8}"]


def get(conn: http.client.HTTPConnection, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    conn.request("GET", "/sample?" + urllib.parse.urlencode(params))
    response = conn.getresponse()
    data = response.read()
    seconds = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"GET /sample {params}: HTTP {response.status}: {data[:300]!r}")
    return dict(json.loads(data)), seconds


def library_times() -> None:
    """Compile times of each candidate library, in this process (the service runs interegular in a worker)."""

    def interegular_dfa(p: str) -> int:
        import interegular

        return len(interegular.parse_pattern(p).to_fsm().states)

    def greenery_dfa(p: str) -> int:
        import greenery

        return len(greenery.parse(p).to_fsm().states)

    def outlines_dfa(p: str) -> int:
        from outlines_core import Index, Vocabulary

        vocabulary = Vocabulary(0, {c: [i + 1] for i, c in enumerate(string.ascii_lowercase)})
        return len(Index(p, vocabulary).get_transitions())

    print("pattern libraries, in process (median of 5; states of the DFA each builds):")
    for name, build in (("interegular", interegular_dfa), ("greenery", greenery_dfa), ("outlines-core", outlines_dfa)):
        cells = []
        for pattern in LIBRARY_PATTERNS:
            try:
                times, states = [], 0
                for _ in range(5):
                    started = time.perf_counter()
                    states = build(pattern)
                    times.append(time.perf_counter() - started)
                cells.append(f"{statistics.median(times) * 1e3:8.1f} ms ({states} states)")
            except ImportError:
                cells.append("not installed")
                break
        print(f"   {name:<14} " + "  ".join(cells))
    print(f"   patterns: {', '.join(LIBRARY_PATTERNS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of unconstrained and constrained requests")
    parser.add_argument("--requests", type=int, default=3, help="n=1000 requests of each kind per round")
    parser.add_argument("--libraries", action="store_true", help="also time the candidate pattern libraries")
    args = parser.parse_args()

    port = free_port()
    server = start_server(port, workers=1)
    seeds = iter(range(10**9, 10**10))  # seeds the warm-up never used
    results: dict[str, dict[str, Any]] = {}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        get(conn, {"n": 1000, "seed": 1})  # the connection's first request
        for label, (constraint, _) in CASES.items():
            _, first = get(conn, {"n": 1000, "seed": next(seeds), **constraint})
            ratios, plain_rates, constrained_rates, constrained_seconds, lengths = [], [], [], [], []
            for _ in range(args.rounds):
                plain = sum(get(conn, {"n": 1000, "seed": next(seeds)})[1] for _ in range(args.requests))
                spent = 0.0
                for _ in range(args.requests):
                    body, seconds = get(conn, {"n": 1000, "seed": next(seeds), **constraint})
                    spent += seconds
                    lengths += [len(name) for name in body["names"]]
                ratios.append(spent / plain)
                plain_rates.append(1000 * args.requests / plain)
                constrained_rates.append(1000 * args.requests / spent)
                constrained_seconds.append(spent / args.requests)
            results[label] = {
                "first": first,
                "ratios": sorted(ratios),
                "plain": statistics.median(plain_rates),
                "constrained": statistics.median(constrained_rates),
                "seconds": statistics.median(constrained_seconds),
                "length": statistics.mean(lengths),
            }
        for label, (_, accept) in CASES.items():  # rejection sampling, the constrained requests' time each
            budget = results[label]["seconds"] * args.rounds * args.requests
            found = drawn = 0
            started = time.perf_counter()
            while not drawn or time.perf_counter() - started < budget:
                body, _ = get(conn, {"n": 1000, "seed": next(seeds)})
                drawn += len(body["names"])
                found += sum(accept(name) for name in body["names"])
            elapsed = time.perf_counter() - started
            results[label]["rejection"] = (found / elapsed, found, drawn, elapsed)
        for label, (constraint, _) in CASES.items():  # exact and similar_to against the guided request
            guided = statistics.median(get(conn, {"n": 1000, "seed": next(seeds), **constraint})[1] for _ in range(3))
            exact = [get(conn, {"n": 1000, "seed": next(seeds), "exact": "true", **constraint}) for _ in range(3)]
            similar = statistics.median(
                get(conn, {"n": 100, "seed": next(seeds), "similar_to": "maria", **constraint})[1] for _ in range(3)
            )
            results[label]["exact"] = (
                statistics.median(s for _, s in exact) / guided,
                statistics.median(b["effective_sample_size"] for b, _ in exact),
                exact[0][0]["drawn"],
                guided,
                similar / guided,
            )
        conn.close()
    finally:
        stop_server(server)

    print("server: python -m app.http.serve, 1 worker, its defaults; every request new seeds; figures are medians")
    print(f"{args.rounds} rounds of {args.requests} unconstrained then {args.requests} constrained n=1000 requests:")
    for label, r in results.items():
        ratios = r["ratios"]
        print(f"{label}")
        print(f"   first request (compiles the automaton): {r['first'] * 1e3:7.0f} ms")
        print(
            f"   guided masking: {r['constrained']:8.0f} names/s (mean length {r['length']:.1f});  unconstrained: "
            f"{r['plain']:8.0f} names/s"
        )
        print(
            f"   time / unconstrained's, round by round: median {statistics.median(ratios):4.2f}x "
            f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}x)  (bar <= {BAR:.0f}x)"
        )
        rate, found, drawn, elapsed = r["rejection"]
        print(
            f"   rejection sampling in the same time ({elapsed:.1f} s): {rate:8.1f} names/s "
            f"({found} of {drawn} drawn satisfy it)"
        )
        slower, ess, candidates, guided, similar = r["exact"]
        print(
            f"   exact=true: {slower:4.1f}x the guided request's {guided * 1e3:.0f} ms; effective sample size "
            f"{ess:.0f} of {candidates} candidates;  similar_to (n=100, 1000 candidates): {similar:4.1f}x"
        )
    if args.libraries:
        library_times()


if __name__ == "__main__":
    main()
