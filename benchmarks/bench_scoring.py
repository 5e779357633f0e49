"""Scoring cost in-process: the service's scoring path against a fixed yardstick, and the dev loss it serves.

The yardstick is a plain TorchScript forward, one thread, of a model with random weights shaped like the
ensemble shipped before issue #13 (training/model.py's NameMLP, 3 members of context 8, embedding 32,
1024 -> LayerNorm -> tanh -> 256 -> LayerNorm -> tanh -> 27, probabilities averaged), over every window of the
names scored. It does not change when the shipped artifact does, so ratios against it stay comparable.
Prints figures only. Run: .venv/bin/python benchmarks/bench_scoring.py
bench_generation.py prints the same comparison over HTTP (POST /score/batch on a running service).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from app.engine.artifact import load_artifact
from app.engine.network import ContextNetwork
from app.engine.scorer import Scorer
from app.engine.store import chosen_model_file
from app.settings import Settings
from training.data import DEFAULT_DATA, ContextWindows, Vocabulary, read_words, reference_split
from training.model import ModelConfig, NameMLP

BAR = 2.0  # /score/batch of 1000 names must take at most half the yardstick's forward over the same windows
YARDSTICK = ModelConfig(
    vocab_size=27, block_size=8, n_embd=32, n_hidden=1024, n_layers=2, deep_width=256, layer_norm=True, n_members=3
)
YARDSTICK_SETTINGS = "1 torch thread, inference_mode, the faster of the two TorchScript executor modes"


def median_seconds(repeats: int, run: Callable[[], object]) -> float:
    run()  # the first call's allocations and (profiling executor) profiling runs are not timed
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def yardstick_module() -> torch.jit.ScriptModule:
    torch.manual_seed(0)
    return torch.jit.script(NameMLP(YARDSTICK).eval())


def yardstick_seconds(module: torch.jit.ScriptModule, windows: torch.Tensor, repeats: int = 5) -> float:
    """Median seconds of one forward over `windows`, under YARDSTICK_SETTINGS (the faster mode is the
    stricter baseline)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        timings = []
        for optimized in (True, False):
            with torch.inference_mode(), torch.jit.optimized_execution(optimized):
                timings.append(median_seconds(repeats, lambda: module(windows)))
        return min(timings)
    finally:
        torch.set_num_threads(threads)


def windows_of(names: list[str], vocab: tuple[str, ...], block_size: int) -> torch.Tensor:
    """Every (context) window the scorer computes for `names`: one per character and one for the end token."""
    return ContextWindows.build(names, Vocabulary(vocab), block_size).x


def dev_words(data: Path = DEFAULT_DATA) -> list[str]:
    return reference_split(read_words(data)).dev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a served model's name or an artifact's path (default: the default model)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    settings = Settings()
    torch.set_num_threads(settings.torch_threads)
    artifact = load_artifact(chosen_model_file(settings.model_path, settings.default_model, args.model))
    words = dev_words(args.data)
    names = words[:1000]
    windows = windows_of(names, artifact.vocab, artifact.block_size)
    yardstick = yardstick_seconds(yardstick_module(), windows)
    print(f"1000 dev names, {len(windows)} windows; yardstick forward ({YARDSTICK_SETTINGS}):")
    print(f"  {yardstick * 1e3:7.1f} ms")
    for threads in sorted({1, settings.resolved_sampler_threads()}):
        scorer = Scorer(artifact, ContextNetwork(artifact.module, threads))
        seconds = median_seconds(5, lambda scorer=scorer: scorer.score_many(names))  # type: ignore[misc]
        print(
            f"Scorer.score_many, {threads} network thread(s):    {seconds * 1e3:7.1f} ms = "
            f"{yardstick / seconds:4.2f}x the yardstick's {yardstick * 1e3:.1f} ms  (bar >= {BAR:.0f}x)"
        )
    total = count = 0.0
    scorer = Scorer(artifact)
    for start in range(0, len(words), 1000):
        for result in scorer.score_many(words[start : start + 1000]):
            total += result.total_loss
            count += len(result.chars)
    print(f"dev loss through the scoring path: {total / count:.5f} nats/char (meta.json: {artifact.meta.dev_loss})")


if __name__ == "__main__":
    main()
