"""Sampling and scoring speed of the engine, against the lecture's one-name-at-a-time loop.

Prints figures only (no assertions on time). Run: .venv/bin/python benchmarks/bench_sampling.py
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import torch

from app.engine.artifact import load_artifact
from app.engine.engine import Engine
from app.engine.requests import SampleRequest
from app.engine.store import chosen_model_file
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


LECTURE_WARM_NAMES = 50  # names drawn before timing: every shape the loop uses has been run many times
LECTURE_SETTINGS = "1 torch thread, torch.jit.optimized_execution(False), inference_mode, warmed with 50 names"


def lecture_baseline(module: torch.jit.ScriptModule, block_size: int, names: int, repeats: int = 3) -> float:
    """names/s of the lecture loop, best of `repeats`, under LECTURE_SETTINGS: the executor and thread count the
    service's own network calls use, so the ratio compares sampling strategies, not executor modes (the
    profiling executor's guards and a second torch thread each move this figure by tens of percent)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.jit.optimized_execution(False):
            lecture_loop(module, block_size, LECTURE_WARM_NAMES, 0)
            return names / best_of(repeats, lambda: lecture_loop(module, block_size, names, 1))
    finally:
        torch.set_num_threads(threads)


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
    parser.add_argument("--model", help="a served model's name or an artifact's path (default: the default model)")
    parser.add_argument("--baseline-names", type=int, default=200)
    parser.add_argument(
        "--sampler-threads",
        type=int,
        default=0,
        help="the service's sampler threads (default: its own choice, NAMEGEN_SAMPLER_THREADS or cores / workers); "
        "a single-threaded sampler is measured too",
    )
    args = parser.parse_args()
    settings = Settings()
    service_threads = args.sampler_threads or settings.resolved_sampler_threads()
    artifact = load_artifact(chosen_model_file(settings.model_path, settings.default_model, args.model))
    torch.set_num_threads(settings.torch_threads)  # as the service sets it (1 by default)
    engines = {
        threads: Engine(artifact, settings.model_copy(update={"sampler_threads": threads}).engine_limits())
        for threads in sorted({1, service_threads})
    }
    for engine in engines.values():
        asyncio.run(engine.warm_up())  # the service's startup: NAMEGEN_WARM_NAMES names drawn to fill the context cache

    baseline_rate = lecture_baseline(artifact.module, artifact.block_size, args.baseline_names)

    # Every repetition draws with a new seed (none of the warm-up's): the context cache only helps as much as it
    # would with new requests. "warm": after the service's own startup warm-up, a running server's state;
    # "cold": cache emptied first.
    seeds = iter(range(10**9, 10**9 + 10**6))
    results = {}
    for threads, engine in engines.items():
        results[f"warm cache, {threads} sampler thread(s)"] = 1000 / best_of(
            5,
            lambda engine=engine: engine.sample_now(SampleRequest(n=1000, seed=next(seeds))),  # type: ignore[misc]
        )

    def cold() -> None:
        engines[1].sampler.clear_cache()
        engines[1].sample_now(SampleRequest(n=1000, seed=next(seeds)))

    results["cold cache, 1 sampler thread"] = 1000 / best_of(3, cold)

    names = engines[1].sample_now(SampleRequest(n=1000, seed=3)).names
    score_ms = best_of(5, lambda: engines[1].score_now(names)) * 1000

    hp = artifact.meta.hyperparameters
    print(
        f"model: {artifact.path.name}  block {artifact.block_size}, hidden {hp.get('n_hidden')} x "
        f"{hp.get('n_layers')}, {artifact.meta.parameters} parameters"
    )
    print(f"lecture loop (1 name at a time, forward per char; {LECTURE_SETTINGS}):")
    print(f"  {baseline_rate:10.0f} names/s")
    for label, rate in results.items():
        print(
            f"service sampler, n=1000, {label:<30} {rate:10.0f} names/s  "
            f"= {rate / baseline_rate:6.1f}x the lecture loop's {baseline_rate:.0f}  (bar >= {BAR:.0f}x)"
        )
    print(f"/score/batch engine path, 1000 names:                      {score_ms:10.1f} ms")


if __name__ == "__main__":
    main()
