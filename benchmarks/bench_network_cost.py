"""What the network costs one GET /sample?n=10 under load: the budget behind bench_http.py's ratio.

For one model (default: the shipped one), prints
- the network's cost per context at each batch size, the service's own path (first-layer tables, then the rest
  of the TorchScript graph), beside the float32 GEMM floor of the same shapes (the members' deeper layers alone);
- for several startup warm-ups (NAMEGEN_WARM_NAMES), how many contexts each request of 10 names still has to
  compute (cache misses), in rounds of 32 requests as under bench_http.py's 32 connections, and the sampler's
  time per request, network and the rest;
- with --healthz-rps (bench_http.py's /healthz figure), the time per request that bar leaves for all /sample adds.
Figures only, no assertions. Run: .venv/bin/python benchmarks/bench_network_cost.py [--warm 20000,200000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import numpy as np
import torch

from app.engine.artifact import Artifact, load_artifact
from app.engine.engine import Engine
from app.engine.network import BUCKETS
from app.engine.requests import SampleRequest
from app.engine.sampler import Sampler, draw_uniforms
from app.engine.store import chosen_model_file
from app.settings import Settings

BAR = 0.6  # bench_http.py's bar: /sample?n=10 at this fraction of /healthz's throughput
CONNECTIONS = 32  # requests batched per round, as under bench_http.py's load
NAMES_PER_REQUEST = 10


def per_call_seconds(run: Callable[[], object], repeats: int = 200) -> float:
    for _ in range(10):
        run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def network_per_context(artifact: Artifact, baseline: Artifact | None) -> None:
    """Per-context cost of the service's network path at each batch size; with `baseline`, another artifact's
    beside it (the variants interleaved, best of 5, so the machine's load drifts over both alike)."""
    samplers = [Sampler(a, cache_slots=1) for a in (artifact, baseline) if a is not None]  # network path only
    hp = artifact.meta.hyperparameters
    members, width, deep = hp.get("n_members", 1), hp["n_hidden"], hp.get("deep_width") or hp["n_hidden"]
    precision = (artifact.meta.served or {}).get("precision", "float32")
    print(f"network per context ({members} member(s), first layer {width} from tables, then {width} -> {deep}; ")
    print(f"  served in {precision}):")
    names = [artifact.path.name] + ([f"{baseline.path.name} (baseline)"] if baseline else [])
    print(f"  batch   {'   '.join(f'{n:>24}' for n in names)}   float32 GEMM floor (deeper layers only)")
    weights = [torch.randn(width, deep) for _ in range(members)]
    for rows in (*BUCKETS, 1000):  # past BUCKETS[-1] the network splits a call into chunks
        contexts = np.arange(rows, dtype=np.int64) * 7919 + 12345  # distinct context numbers (any will do)
        x = torch.randn(rows, width)
        best = [float("inf")] * len(samplers)
        for _ in range(5):
            for k, sampler in enumerate(samplers):
                run = lambda sampler=sampler, contexts=contexts: sampler.network_logits(contexts)  # noqa: E731
                best[k] = min(best[k], per_call_seconds(run, repeats=40) / rows)

        def gemm_only(x: torch.Tensor = x) -> object:
            return [x @ w for w in weights]

        gemm = per_call_seconds(gemm_only) / rows
        rate = width * deep * members / gemm / 1e9  # multiply-adds per second, in G
        columns = "   ".join(f"{b * 1e6:21.1f} us" for b in best)
        ratio = f"  ({best[1] / best[0]:.2f}x cheaper)" if len(best) > 1 else ""
        print(f"  {rows:5d}   {columns}   {gemm * 1e6:9.1f} us  ({rate:.0f} GMAC/s){ratio}")


def misses_per_request(artifact: Artifact, settings: Settings, warm_names: int, rounds: int) -> None:
    engine = Engine(
        artifact, settings.model_copy(update={"warm_names": warm_names, "sampler_threads": 1}).engine_limits()
    )
    started = time.perf_counter()
    asyncio.run(engine.warm_up())
    warm_seconds = time.perf_counter() - started
    sampler, request = engine.sampler, SampleRequest(max_length=settings.max_name_length)
    before = (sampler.stats.computed, sampler.stats.network_seconds)
    started = time.perf_counter()
    for r in range(rounds):  # new seeds, none of the warm-up's
        generators = [torch.Generator().manual_seed(10**9 + r * CONNECTIONS + i) for i in range(CONNECTIONS)]
        sampler.sample_rounds([draw_uniforms(NAMES_PER_REQUEST, request, g) for g in generators], request)
    total = (time.perf_counter() - started) / (rounds * CONNECTIONS)
    misses = (sampler.stats.computed - before[0]) / (rounds * CONNECTIONS)
    network = (sampler.stats.network_seconds - before[1]) / (rounds * CONNECTIONS)
    print(
        f"  {warm_names:9,d} {warm_seconds:8.1f} s   {misses:6.1f}      {network * 1e6:7.0f} us   "
        f"{(total - network) * 1e6:7.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a served model's name or an artifact's path (default: the default model)")
    parser.add_argument("--baseline-model", help="another artifact whose network cost to print beside it")
    parser.add_argument("--warm", default="20000,200000", help="startup warm-ups to compare (names, comma-separated)")
    parser.add_argument("--rounds", type=int, default=60, help=f"rounds of {CONNECTIONS} requests per warm-up")
    parser.add_argument("--healthz-rps", type=float, help="/healthz requests/s from bench_http.py, for the budget")
    args = parser.parse_args()
    settings = Settings()
    torch.set_num_threads(settings.torch_threads)  # as the service sets it (1 by default)
    artifact = load_artifact(chosen_model_file(settings.model_path, settings.default_model, args.model))

    network_per_context(artifact, load_artifact(args.baseline_model) if args.baseline_model else None)
    print(f"per request of {NAMES_PER_REQUEST} names, rounds of {CONNECTIONS} requests, 1 sampler thread:")
    print("  warm-up     startup   misses     network    rest of the sampler")
    for warm_names in (int(w) for w in args.warm.split(",")):
        misses_per_request(artifact, settings, warm_names, args.rounds)
    if args.healthz_rps:
        floor = 1 / args.healthz_rps
        print(
            f"budget: /healthz at {args.healthz_rps:,.0f} req/s is {floor * 1e6:.0f} us per request; {BAR}x of it "
            f"leaves {(1 / BAR - 1) * floor * 1e6:.0f} us per request for everything /sample?n=10 adds"
        )


if __name__ == "__main__":
    main()
