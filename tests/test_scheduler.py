"""The scheduler: one admission point for all compute, fair turns, abandoned work dropped, results unchanged by
how work is sliced and batched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from app.engine.artifact import Artifact, load_artifact
from app.engine.engine import Engine
from app.engine.limits import EngineLimits
from app.engine.requests import SampleRequest
from app.engine.results import ScoredText
from app.engine.sampler import Sampler, draw_uniforms
from app.engine.scheduler import Busy, ClientGone, Scheduler
from app.engine.scorer import ReadText, Scorer
from app.settings import SHIPPED_MODELS

HEAVY = SampleRequest(temperature=1000.0, seed=0, min_length=32, max_length=32)  # every row runs all 33 steps


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class OneModel:
    """A scheduler with one model's sampler and scorer: the calls these tests make, bound to that model."""

    def __init__(self, artifact: Artifact, max_queued_work: int = 10**9) -> None:
        self.sampler = Sampler(artifact, cache_slots=4093)
        self.scorer = Scorer(artifact)
        self.scheduler = Scheduler(max_queued_work)

    async def sample(self, request: SampleRequest, uniforms: Any, gone: Any = None) -> Any:
        return await self.scheduler.sample(self.sampler, request, None, uniforms, gone)

    async def score(self, texts: list[str]) -> list[ScoredText]:
        return await self.scheduler.score(self.scorer, [ReadText(t, t) for t in texts])

    def assume_context_costs(self, kind: str, seconds: float) -> None:
        """Set the scheduler's cost estimate, and with it the size of the slices it cuts."""
        self.scheduler.context_seconds[self.sampler if kind == "sample" else self.scorer] = seconds


def scheduler(artifact: Artifact, max_queued_work: int = 10**9) -> OneModel:
    return OneModel(artifact, max_queued_work)


def test_a_round_cut_into_slices_gives_the_names_it_gives_whole(
    artifact: Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.engine.tasks.MIN_SLICE_ROWS", 1)
    uniforms = draw_uniforms(40, HEAVY, torch.Generator().manual_seed(3))
    whole = Sampler(artifact, cache_slots=4093).sample_rounds([uniforms], HEAVY)[0]
    s = scheduler(artifact)
    s.assume_context_costs("sample", 1.0)  # a budget of one row per slice
    sliced = asyncio.run(s.sample(HEAVY, uniforms))
    assert sliced == whole
    assert len(s.scheduler.batch_sizes) > 1  # it really was cut up


def test_scores_cut_into_slices_are_the_scores_of_the_whole(
    artifact: Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.engine.tasks.MIN_SLICE_CONTEXTS", 1)
    texts = ["emma", "olivia", "christopher", "ava", "zzyzx"] * 20
    s = scheduler(artifact)
    s.assume_context_costs("score", 1.0)  # one text per slice
    assert asyncio.run(s.score(texts)) == Scorer(artifact).score_many(texts)
    assert len(s.scheduler.batch_sizes) > 1  # it really was cut up


def test_a_small_request_finishes_while_a_huge_one_is_still_running(artifact: Artifact) -> None:
    s = scheduler(artifact)
    finished: list[str] = []

    async def run() -> None:
        async def heavy() -> None:
            await s.sample(HEAVY, draw_uniforms(400, HEAVY, torch.Generator().manual_seed(1)))
            finished.append("heavy")

        async def small() -> None:
            await asyncio.sleep(0.05)  # arrives after the heavy one has started
            await s.score(["emma"])
            finished.append("small")

        await asyncio.gather(heavy(), small())

    asyncio.run(run())
    assert finished == ["small", "heavy"]


def test_work_past_the_bound_is_refused_but_an_idle_server_takes_any_one_request(artifact: Artifact) -> None:
    s = scheduler(artifact, max_queued_work=3000)
    large = ["a" * 60] * 50  # 3050 contexts: more than the bound, and not small
    assert len(asyncio.run(s.score(large))) == 50  # alone: admitted

    async def two_at_once() -> list[object]:
        return await asyncio.gather(s.score(large), s.score(large), return_exceptions=True)

    first, second = asyncio.run(two_at_once())
    assert isinstance(first, list) and isinstance(second, Busy)
    assert "3050 more would pass the limit of 3000" in str(second)


def test_later_rounds_of_an_admitted_request_are_never_refused(artifact: Artifact) -> None:
    engine = Engine(artifact, EngineLimits(max_queued_work=1, warm_names=0, cache_contexts=4093))
    result = engine.sample_now(SampleRequest(n=20, novel_only=True, unique=True, temperature=0.3, seed=5))
    assert result.attempts > 1 and result.complete  # several rounds, each past the bound of 1


def test_work_of_a_client_that_has_gone_stops_at_the_next_batch(
    artifact: Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.engine.tasks.MIN_SLICE_ROWS", 8)
    s = scheduler(artifact)
    s.assume_context_costs("sample", 1e-3)  # small slices: many batches
    asked = []

    async def gone() -> bool:
        asked.append(True)
        return len(asked) >= 3

    uniforms = draw_uniforms(200, HEAVY, torch.Generator().manual_seed(2))
    with pytest.raises(ClientGone):
        asyncio.run(s.sample(HEAVY, uniforms, gone=gone))
    assert len(s.scheduler.batch_sizes) == 3 and s.scheduler.abandoned == 1 and not s.scheduler.tasks


def test_sampling_and_scoring_run_in_one_worker_thread(artifact: Artifact) -> None:
    s = scheduler(artifact)
    asyncio.run(s.score(["emma"]))
    assert [t.name for t in s.scheduler.executor._threads] == ["namegen-compute_0"]


def test_a_small_request_is_admitted_past_the_bound_where_a_large_one_is_not(artifact: Artifact) -> None:
    s = scheduler(artifact, max_queued_work=4000)

    async def run() -> list[object]:
        large = [s.score(["a" * 63] * 60) for _ in range(2)]  # 3840 contexts each
        return await asyncio.gather(*large, s.score(["emma"]), return_exceptions=True)

    first, second, small = asyncio.run(run())
    assert isinstance(first, list) and isinstance(second, Busy) and isinstance(small, list)


def test_two_models_in_one_batch_give_what_each_gives_alone(artifact: Artifact) -> None:
    lecture = load_artifact(SHIPPED_MODELS / "lecture-mlp.pt")
    shared = Scheduler(10**9)
    first, second = Sampler(artifact, cache_slots=4093), Sampler(lecture, cache_slots=4093)
    uniforms = draw_uniforms(30, HEAVY, torch.Generator().manual_seed(4))

    async def both() -> list[Any]:
        return await asyncio.gather(
            shared.sample(first, HEAVY, None, uniforms), shared.sample(second, HEAVY, None, uniforms)
        )

    together = asyncio.run(both())
    alone = [Sampler(a, cache_slots=4093).sample_rounds([uniforms], HEAVY)[0] for a in (artifact, lecture)]
    assert together == alone
    assert together[0].names != together[1].names  # two models, not one twice
    assert shared.batch_sizes[0] == 2  # and they did share a batch


def test_requests_that_draw_alike_share_one_sampler_call_whatever_their_seed_and_n(
    artifact: Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scheduler(artifact)
    calls: list[int] = []
    original = s.sampler.sample_rounds

    def counting(blocks: Any, request: SampleRequest, automaton: Any = None) -> Any:
        calls.append(len(blocks))
        return original(blocks, request, automaton)

    monkeypatch.setattr(s.sampler, "sample_rounds", counting)
    first, second = SampleRequest(n=5, seed=1, max_length=32), SampleRequest(n=9, seed=2, max_length=32)

    async def both() -> list[Any]:
        return await asyncio.gather(
            s.sample(first, draw_uniforms(5, first, torch.Generator().manual_seed(1))),
            s.sample(second, draw_uniforms(9, second, torch.Generator().manual_seed(2))),
        )

    rounds = asyncio.run(both())
    assert calls == [2]  # one call, both requests' rows side by side
    assert [len(r.names) for r in rounds] == [5, 9]
