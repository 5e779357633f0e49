"""The vectorized sampler draws exactly what a one-name-at-a-time reference draws from the same uniforms."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from app.engine.artifact import Artifact, ArtifactMeta, load_artifact, write_artifact
from app.engine.engine import Engine
from app.engine.limits import EngineLimits
from app.engine.network import ContextNetwork
from app.engine.requests import SampleRequest
from app.engine.sampler import Sampler
from training.model import ModelConfig, NameMLP

NEAR_TIE = 1e-5  # a draw this close to a CDF boundary may legitimately flip (float32 batched vs single forward)


def drawn(**fields: Any) -> SampleRequest:
    """A normalized request as the sampler sees it; the sampler's own defaults: no minimum, 32 characters."""
    return SampleRequest(**{"min_length": 0, "max_length": 32, "seed": 0, **fields})


def reference_names(artifact: Artifact, n: int, request: SampleRequest, seed: int) -> list[tuple[str | None, float]]:
    """Straightforward sampler: one name at a time, the model's own forward, row i uses uniforms[:, i].

    Returns (name or None when it ran past max_length, smallest distance of a draw to a CDF boundary).
    """
    steps = request.steps
    prefix_ids = ids(artifact, request.prefix)
    uniforms = torch.rand((steps, n), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    results: list[tuple[str | None, float]] = []
    for i in range(n):
        context = [0] * artifact.block_size
        for token in prefix_ids:
            context = [*context[1:], token]
        chars = [artifact.vocab[t] for t in prefix_ids]
        margin, name = float("inf"), None
        for step in range(steps):
            with torch.inference_mode():
                logits = artifact.module(torch.tensor([context]))[0].double()
            logits = logits.clone() / request.temperature
            if len(chars) < request.min_length:
                logits[0] = float("-inf")
            if request.top_k is not None:
                kth = sorted(logits.tolist(), reverse=True)[request.top_k - 1]
                logits[logits < kth] = float("-inf")
            probs = torch.softmax(logits, dim=0)
            if request.top_p is not None:
                order = sorted(range(len(probs)), key=lambda j: -float(probs[j]))
                kept, mass = set(), 0.0
                for j in order:
                    if mass >= request.top_p:
                        break
                    kept.add(j)
                    mass += float(probs[j])
                probs = torch.tensor([float(p) if j in kept else 0.0 for j, p in enumerate(probs)])
            cdf = probs.cumsum(0)
            target = float(uniforms[step, i]) * float(cdf[-1])
            token = int((cdf <= target).sum())
            margin = min(margin, float((cdf - target).abs().min()))
            if token == 0:
                name = "".join(chars)
                break
            chars.append(artifact.vocab[token])
            context = [*context[1:], token]
        results.append((name, margin))
    return results


def ids(artifact: Artifact, text: str) -> tuple[int, ...]:
    return tuple(artifact.vocab.index(c) for c in text)


@pytest.mark.parametrize(
    "request_args",
    [
        {"temperature": 1.0},
        {"temperature": 0.7, "top_k": 5, "min_length": 4, "max_length": 9},
        {"temperature": 1.3, "top_p": 0.8, "prefix": "ma", "max_length": 7},
    ],
    ids=["plain", "top_k-lengths", "top_p-prefix"],
)
def test_vectorized_sampler_matches_one_at_a_time_reference(artifact: Artifact, request_args: dict) -> None:
    request = drawn(**request_args)
    n, seed = 60, 1234
    round_ = Sampler(artifact).sample_round(n, request, torch.Generator().manual_seed(seed))
    expected = reference_names(artifact, n, request, seed)
    for got, rejected, (want, margin) in zip(round_.names, round_.rejected, expected, strict=True):
        if margin > NEAR_TIE:
            assert (None if rejected else got) == want


def test_log_prob_is_the_forward_log_likelihood_of_name_and_end(artifact: Artifact) -> None:
    round_ = Sampler(artifact).sample_round(20, drawn(prefix="el"), torch.Generator().manual_seed(3))
    for name, log_prob in zip(round_.names, round_.log_probs, strict=True):
        tokens = [*ids(artifact, name), 0]
        contexts, context = [], [0] * artifact.block_size
        for token in tokens:
            contexts.append(context)
            context = [*context[1:], token]
        with torch.inference_mode():
            logp = torch.log_softmax(artifact.module(torch.tensor(contexts)).double(), dim=1)
        assert log_prob == pytest.approx(float(logp[range(len(tokens)), tokens].sum()), abs=1e-4)


def test_min_length_withholds_the_end_token(artifact: Artifact) -> None:
    round_ = Sampler(artifact).sample_round(100, drawn(min_length=6), torch.Generator().manual_seed(5))
    assert all(len(name) >= 6 for name, rej in zip(round_.names, round_.rejected, strict=True) if not rej)


def test_rows_past_max_length_are_rejected_not_truncated(artifact: Artifact) -> None:
    round_ = Sampler(artifact).sample_round(200, drawn(max_length=3), torch.Generator().manual_seed(11))
    kept = [name for name, rej in zip(round_.names, round_.rejected, strict=True) if not rej]
    assert all(len(name) <= 3 for name in kept)
    assert any(round_.rejected)  # most names are longer than 3 characters under any name model


def test_a_context_too_large_for_int64_keys_is_served_exactly(tmp_path: Path) -> None:
    """27 ** 14 > 2 ** 62: context numbers become Python ints, and names still match the reference."""
    torch.manual_seed(0)
    model = NameMLP(ModelConfig(vocab_size=27, block_size=14, n_embd=4, n_hidden=16)).eval()
    vocab = [".", *"abcdefghijklmnopqrstuvwxyz"]
    meta = {
        "format": "namegen-mlp",
        "format_version": 1,
        "vocab": vocab,
        "block_size": 14,
        "hyperparameters": {},
        "train_loss": 0.0,
        "dev_loss": 0.0,
        "test_loss": 0.0,
        "dataset": {},
    }
    path = tmp_path / "long-context.pt"
    write_artifact(path, torch.jit.script(model), ArtifactMeta.from_json(meta), ["ab"])
    artifact = load_artifact(path)
    sampler = Sampler(artifact)
    assert sampler.key_dtype.kind == "O"
    request = drawn(max_length=20)
    round_ = sampler.sample_round(30, request, torch.Generator().manual_seed(5))
    expected = reference_names(artifact, 30, request, 5)
    for got, rejected, (want, margin) in zip(round_.names, round_.rejected, expected, strict=True):
        if margin > NEAR_TIE:
            assert (None if rejected else got) == want


def test_warm_up_fills_the_context_cache_without_changing_the_names(artifact: Artifact) -> None:
    cold = Engine(artifact, EngineLimits(warm_names=0))
    asyncio.run(cold.warm_up())
    warm = Engine(artifact, EngineLimits(warm_names=3000))
    asyncio.run(warm.warm_up())
    filled = int((warm.sampler.cache_keys != -1).sum())
    assert filled > int((cold.sampler.cache_keys != -1).sum()) + 3000  # 3000 names bring > 1 new context each
    spec = SampleRequest(n=50, seed=9, temperature=0.9)
    assert warm.sample_now(spec) == cold.sample_now(spec)


def test_parallel_network_shares_give_the_same_distributions_and_names(artifact: Artifact) -> None:
    one = Sampler(artifact, ContextNetwork(artifact.module, threads=1))
    two = Sampler(artifact, ContextNetwork(artifact.module, threads=2))
    keys = np.unique(np.random.default_rng(1).integers(0, one.span * artifact.vocab_size, 3000))
    assert np.array_equal(two.network_logits(keys), one.network_logits(keys))
    request = drawn(temperature=1.1, max_length=20)
    assert two.sample_round(700, request, torch.Generator().manual_seed(4)) == one.sample_round(
        700, request, torch.Generator().manual_seed(4)
    )


def contexts_of(name: str, block_size: int) -> set[str]:
    """The padded contexts a name's draws were made from: one per character and one for the end token."""
    padded = "." * block_size + name
    return {padded[i : i + block_size] for i in range(len(name) + 1)}


def test_network_stats_count_lookups_and_each_missing_context_once(artifact: Artifact) -> None:
    sampler = Sampler(artifact)
    names = sampler.sample_round(40, drawn(), torch.Generator().manual_seed(8)).names
    visited = set().union(*(contexts_of(name, artifact.block_size) for name in names))
    assert sampler.stats.lookups == sum(len(name) + 1 for name in names)
    assert sampler.stats.computed == len(visited)
    assert sampler.stats.network_seconds > 0
    sampler.sample_round(40, drawn(), torch.Generator().manual_seed(8))  # the same draws: all cached
    assert (sampler.stats.lookups, sampler.stats.computed) == (2 * sum(len(name) + 1 for name in names), len(visited))


def test_network_stats_report_only_what_was_added_since_the_last_report(artifact: Artifact) -> None:
    sampler = Sampler(artifact)
    sampler.sample_round(5, drawn(), torch.Generator().manual_seed(1))
    lookups, computed, seconds = sampler.stats.take_unreported()
    assert (lookups, computed) == (sampler.stats.lookups, sampler.stats.computed) and seconds > 0
    assert sampler.stats.take_unreported() == (0, 0, 0.0)


@pytest.mark.parametrize("temperature", [1e-308, 1e-30, 1e-3, 1e3, 1e30, 1e308])
@pytest.mark.parametrize("extra", [{}, {"top_k": 3}, {"top_p": 0.5}])
def test_length_bounds_hold_at_any_temperature(artifact: Artifact, temperature: float, extra: dict[str, Any]) -> None:
    request = drawn(temperature=temperature, min_length=7, max_length=9, **extra)
    round_ = Sampler(artifact, cache_slots=4093).sample_round(200, request, torch.Generator().manual_seed(3))
    kept = [name for name, rejected in zip(round_.names, round_.rejected, strict=True) if not rejected]
    assert kept and all(7 <= len(name) <= 9 for name in kept)
    # A row that has not ended after max_length characters is rejected (with one character too many).
    assert all(len(name) == 10 for name, rejected in zip(round_.names, round_.rejected, strict=True) if rejected)
