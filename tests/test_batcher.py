"""Micro-batching: a request's names do not depend on what it is batched with; the queue is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from app.engine.artifact import Artifact
from app.engine.batcher import QueueFull, SampleBatcher
from app.engine.engine import PlannedRound
from app.engine.sampler import BUCKETS, Controls, Round, Sampler, distributions

PLAIN = Controls()
SHAPED = Controls(temperature=0.8, top_p=0.9, min_length=3, max_length=12)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """As the service runs by default (NAMEGEN_TORCH_THREADS=1); two threads on a busy machine stall in waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def alone(artifact: Artifact, planned: PlannedRound) -> Round:
    """The round run by itself, through a fresh sampler (empty cache)."""
    return Sampler(artifact).sample_round(planned.rows, planned.controls, planned.generator())


def test_network_rows_are_identical_in_every_bucket_size(artifact: Artifact) -> None:
    sampler = Sampler(artifact)
    keys = np.unique(np.random.default_rng(0).integers(0, sampler.span * artifact.vocab_size, 1200))
    one_bucket = np.concatenate(
        [distributions(sampler.network_logits(keys[i : i + BUCKETS[0]])) for i in range(0, len(keys), 4)]
    )
    for size in BUCKETS:  # a batch of `size` distinct contexts is computed in bucket `size`
        for start in (0, len(keys) - size):
            rows = distributions(sampler.network_logits(keys[start : start + size]))
            assert np.array_equal(rows, one_bucket[start : start + size])


def test_network_rows_match_the_model_forward(artifact: Artifact) -> None:
    sampler = Sampler(artifact)
    contexts = torch.randint(
        0, artifact.vocab_size, (50, artifact.block_size), generator=torch.Generator().manual_seed(1)
    )
    keys = (contexts.numpy() * sampler.powers).sum(axis=1)
    with torch.inference_mode():
        logp = torch.log_softmax(artifact.module(contexts).double(), dim=1).numpy()
    assert np.allclose(distributions(sampler.network_logits(keys))[:, : artifact.vocab_size], logp, atol=1e-5)


def test_the_cache_does_not_change_the_names(artifact: Artifact) -> None:
    sampler = Sampler(artifact)
    for seed in range(5):  # warm the cache with other draws
        sampler.sample_round(200, PLAIN, torch.Generator().manual_seed(100 + seed))
    warm = sampler.sample_round(300, PLAIN, torch.Generator().manual_seed(7))
    sampler.clear_cache()
    assert sampler.sample_round(300, PLAIN, torch.Generator().manual_seed(7)) == warm


def test_cache_slot_collisions_do_not_change_the_names(artifact: Artifact) -> None:
    tiny = Sampler(artifact, cache_slots=7)  # most contexts share a slot with another in the same step
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        assert tiny.sample_round(200, SHAPED, generator) == alone(artifact, PlannedRound(200, SHAPED, seed))


def test_each_request_draws_the_same_names_alone_and_batched(artifact: Artifact) -> None:
    planned = [
        PlannedRound(10, PLAIN, 1),
        PlannedRound(3, SHAPED, 2),
        PlannedRound(250, PLAIN, 3),
        PlannedRound(1, PLAIN, 2**64 - 1),
        PlannedRound(40, SHAPED, 5),
        PlannedRound(10, PLAIN, 1),  # the same request twice in one batch
    ]
    batched = SampleBatcher(Sampler(artifact)).run_batch(planned)
    for p, got in zip(planned, batched, strict=True):
        assert got == alone(artifact, p)


def test_concurrent_requests_are_batched_and_each_gets_its_own_names(artifact: Artifact) -> None:
    batcher = SampleBatcher(Sampler(artifact))
    planned = [PlannedRound(10, PLAIN, seed) for seed in range(24)]

    async def all_at_once() -> list[Round]:
        return await asyncio.gather(*(batcher.run(p) for p in planned))

    results = asyncio.run(all_at_once())
    assert max(batcher.batch_sizes) > 1  # some requests shared a round
    assert results == [alone(artifact, p) for p in planned]


def test_a_full_queue_is_refused_at_once(artifact: Artifact) -> None:
    batcher = SampleBatcher(Sampler(artifact), max_queued=2)

    async def three_at_once() -> list[Round | BaseException]:
        return await asyncio.gather(*(batcher.run(PlannedRound(5, PLAIN, s)) for s in range(3)), return_exceptions=True)

    outcomes = asyncio.run(three_at_once())
    assert [type(o) for o in outcomes] == [Round, Round, QueueFull]


def test_sampler_errors_reach_the_waiting_request(artifact: Artifact) -> None:
    batcher = SampleBatcher(Sampler(artifact))

    def broken(planned: list[PlannedRound]) -> list[Round]:
        raise RuntimeError("boom")

    batcher.run_batch = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(batcher.run(PlannedRound(5, PLAIN, 0)))
