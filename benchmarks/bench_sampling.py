"""Sampling and scoring speed of the engine, against the lecture's one-name-at-a-time loop.

Prints figures only (no assertions on time). Run: .venv/bin/python benchmarks/bench_sampling.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from app.engine.artifact import load_artifact
from app.engine.engine import Engine, SampleSpec
from app.settings import Settings

BAR = 40.0  # the service's sampler must be at least this many times the lecture loop


def lecture_loop(module: torch.jit.ScriptModule, block_size: int, count: int, seed: int) -> list[str]:
    """The lectures' sampler: one name at a time, one forward per character, torch.multinomial."""
    generator = torch.Generator().manual_seed(seed)
    names = []
    with torch.inference_mode():
        for _ in range(count):
            context, out = [0] * block_size, []
            while True:
                probs = torch.softmax(module(torch.tensor([context])), dim=1)
                ix = int(torch.multinomial(probs, num_samples=1, generator=generator))
                context = [*context[1:], ix]
                if ix == 0:
                    break
                out.append(ix)
            names.append(str(out))
    return names


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Best wall time of `repeats` runs (seconds): the least disturbed by the other work on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="artifact (default: the shipped one)")
    parser.add_argument("--baseline-names", type=int, default=200)
    parser.add_argument(
        "--service-threads", type=int, default=1, help="torch threads for the service's sampler (also tries 1)"
    )
    args = parser.parse_args()
    settings = Settings(model_path=args.model) if args.model else Settings()
    artifact = load_artifact(settings.model_path)
    engine = Engine(artifact, settings)
    engine.warm_up()

    torch.set_num_threads(1)
    lecture_loop(artifact.module, artifact.block_size, 5, 0)  # warm
    baseline_seconds = best_of(2, lambda: lecture_loop(artifact.module, artifact.block_size, args.baseline_names, 1))
    baseline_rate = args.baseline_names / baseline_seconds

    # Every repetition draws with a new seed: the context cache only helps as much as it would with new
    # requests. "warm": after the warm-up draws below (a running server's state); "cold": cache emptied first.
    seeds = iter(range(10**6))
    for _ in range(20):
        engine.sample(SampleSpec(n=1000, seed=next(seeds)))
    results = {}
    for threads in sorted({1, args.service_threads}):
        torch.set_num_threads(threads)
        results[f"warm cache, {threads} torch thread(s)"] = 1000 / best_of(
            5, lambda: engine.sample(SampleSpec(n=1000, seed=next(seeds)))
        )

    def cold() -> None:
        engine.sampler.clear_cache()
        engine.sample(SampleSpec(n=1000, seed=next(seeds)))

    torch.set_num_threads(1)
    results["cold cache, 1 torch thread"] = 1000 / best_of(3, cold)
    for _ in range(20):  # warm again for /score's numbers below (they do not use the cache)
        engine.sample(SampleSpec(n=1000, seed=next(seeds)))

    torch.set_num_threads(args.service_threads)
    names = engine.sample(SampleSpec(n=1000, seed=3))["names"]
    score_ms = best_of(5, lambda: engine.score_batch(names)) * 1000

    hp = artifact.meta.get("hyperparameters", {})
    print(
        f"model: {artifact.path.name}  block {artifact.block_size}, hidden {hp.get('n_hidden')} x "
        f"{hp.get('n_layers')}, {artifact.meta.get('parameters')} parameters"
    )
    print(f"lecture loop (1 name at a time, forward per char, 1 thread):     {baseline_rate:10.0f} names/s")
    for label, rate in results.items():
        print(
            f"service sampler, n=1000, {label:<28} {rate:10.0f} names/s  "
            f"= {rate / baseline_rate:6.1f}x  (bar >= {BAR:.0f}x)"
        )
    print(f"/score/batch engine path, 1000 names:                      {score_ms:10.1f} ms")


if __name__ == "__main__":
    main()
