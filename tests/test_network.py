"""ContextNetwork: the one function that gives a context's network output to the sampler and the scorer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.engine.artifact import Artifact
from app.engine.network import BUCKETS, ContextNetwork
from app.engine.sampler import Controls, Sampler
from app.engine.scorer import Scorer


def random_contexts(artifact: Artifact, count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, artifact.vocab_size, (count, artifact.block_size), generator=generator)


def test_rows_are_identical_in_every_bucket_size(artifact: Artifact) -> None:
    network = ContextNetwork(artifact.module)
    contexts = random_contexts(artifact, 1100, seed=0)
    one_bucket = torch.cat([network.logits(contexts[i : i + BUCKETS[0]]) for i in range(0, len(contexts), 4)])
    for size in BUCKETS:  # `size` contexts are computed in bucket `size`, others padded up to it
        for start in (0, len(contexts) - size, 3):
            assert torch.equal(network.logits(contexts[start : start + size]), one_bucket[start : start + size])
    assert torch.equal(network.logits(contexts), one_bucket)  # many calls of MAX_CHUNK, and a padded last one
    assert torch.equal(network.logits(contexts[5:1000]), one_bucket[5:1000])


def test_rows_match_the_artifacts_forward(artifact: Artifact) -> None:
    contexts = random_contexts(artifact, 50, seed=1)
    with torch.inference_mode():
        forward = artifact.module(contexts)
    assert torch.allclose(ContextNetwork(artifact.module).logits(contexts), forward, atol=1e-5, rtol=0)


def test_parallel_shares_give_the_same_rows(artifact: Artifact) -> None:
    contexts = random_contexts(artifact, 3000, seed=2)
    one, two = ContextNetwork(artifact.module, threads=1), ContextNetwork(artifact.module, threads=2)
    assert torch.equal(two.logits(contexts), one.logits(contexts))


def test_repeated_contexts_are_computed_once_with_the_same_rows(artifact: Artifact) -> None:
    network = ContextNetwork(artifact.module)
    distinct = random_contexts(artifact, 40, seed=3)
    repeated = distinct[torch.tensor([5, 0, 5, 39, 0, 0, 12])]
    assert torch.equal(network.distinct_logits(repeated), network.logits(distinct)[[5, 0, 5, 39, 0, 0, 12]])


def test_no_contexts_give_no_rows(artifact: Artifact) -> None:
    empty = torch.zeros((0, artifact.block_size), dtype=torch.long)
    assert ContextNetwork(artifact.module).logits(empty).shape == (0, artifact.vocab_size)


def test_one_instance_per_module_and_thread_count(artifact: Artifact) -> None:
    network = ContextNetwork.shared(artifact.module, threads=2)
    assert ContextNetwork.shared(artifact.module) is network  # the scorer, made after the sampler, shares it
    assert ContextNetwork.shared(artifact.module, threads=2) is network
    assert ContextNetwork.shared(artifact.module, threads=1).threads == 1  # another setting: a new instance


@pytest.mark.parametrize("threads", [1, 2])
def test_sampled_log_prob_is_exactly_minus_the_scored_total_loss(artifact: Artifact, threads: int) -> None:
    sampler = Sampler(artifact, cache_slots=1009, threads=threads)
    round_ = sampler.sample_round(200, Controls(), torch.Generator().manual_seed(21))
    names = [name for name, rejected in zip(round_.names, round_.rejected, strict=True) if not rejected]
    log_probs = [lp for lp, rejected in zip(round_.log_probs, round_.rejected, strict=True) if not rejected]
    scored = Scorer(artifact).score_many(names)
    # The same float32 network rows on both sides: only float64 rounding in the sums may differ.
    assert np.allclose([-s["total_loss"] for s in scored], log_probs, atol=1e-9, rtol=0)
