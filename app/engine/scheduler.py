"""One admission point and one fair queue for all compute of every served model: sampling rounds and scoring.

Every piece of work is measured in contexts, the unit both kinds spend: a sampling round of r rows and s steps
may look up r * s contexts, a scored text of length L is L + 1 windows. A request is admitted while the work
already queued is under the bound (max_queued_work); past it, Busy (HTTP 503 with Retry-After). A request
already admitted is never refused its later rounds.

One consumer builds each batch: every small request whole, then the large ones in turn (round robin), each a
slice of the batch's time budget. A request that asks for little is so served in the next batch, a huge one
one slice at a time, and small requests never wait behind large ones for more than a batch (slicing changes no
result: app.engine.tasks). The budget is in
seconds, converted to contexts by a running estimate of what a context costs, so a batch takes about the same
time whether its contexts come from the sampler's cache (cheap) or from the network (dear).

The batch runs in one worker thread, so the event loop never waits on torch. Before each batch, requests
whose client has gone are dropped: abandoned work stops at the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import itertools
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any, cast

import numpy as np

from app.engine.constraints import Automaton
from app.engine.requests import SampleRequest
from app.engine.results import NextChars, ScoredText
from app.engine.sampler import Round, Sampler
from app.engine.scorer import ReadText, Scorer
from app.engine.tasks import Gone, NextTask, SampleTask, ScoreTask, Slice, Task

RETRY_AFTER_SECONDS = 1
BATCH_SECONDS = 0.025  # a batch's time budget while several requests wait: how long a small one waits
LONE_BATCH_SECONDS = 0.2  # the budget when one request is alone: larger slices, fewer fixed costs
FIRST_CONTEXT_SECONDS = 30e-6  # the cost estimate before anything was measured (a cache miss, roughly)
SMALL_REQUEST_CONTEXTS = 2048  # a request this small is admitted into a reserve above the bound
TRIM_AFTER_CONTEXTS = 200_000  # work done since the last trim that makes an idle moment worth a malloc_trim


class Busy(Exception):
    """The queue holds more work than the bound: the server is overloaded; retry later."""


class ClientGone(Exception):
    """The client that asked for this work disconnected; the work was dropped."""


class Scheduler:
    """One per process, shared by every served model: the bound and the compute thread are the machine's."""

    def __init__(self, max_queued_work: int) -> None:
        self.max_queued_work = max_queued_work
        self.tasks: deque[Task] = deque()
        self.consumer: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="namegen-compute")
        # Seconds per context by model (a sampler or a scorer): a large model's miss costs many times a small one's.
        self.context_seconds: defaultdict[object, float] = defaultdict(lambda: FIRST_CONTEXT_SECONDS)
        self.since_trim = 0
        self.abandoned = 0  # requests dropped because their client had gone
        self.batch_sizes: deque[int] = deque(maxlen=100)  # requests per batch, most recent last

    @property
    def queued_work(self) -> int:
        return sum(task.contexts_left for task in self.tasks)

    # -- submitting ---------------------------------------------------------------------------------------

    async def sample(
        self,
        sampler: Sampler,
        request: SampleRequest,
        automaton: Automaton | None,
        uniforms: np.ndarray,
        gone: Gone | None = None,
        admitted: bool = False,
    ) -> Round:
        """Run one sampling round of a normalized request; `admitted`: a later round of a request already
        admitted (never refused)."""
        contexts = uniforms.shape[0] * uniforms.shape[1]
        if not admitted:
            self.admit(contexts)
        task = SampleTask(
            contexts_left=contexts,
            future=asyncio.get_running_loop().create_future(),
            gone=gone,
            sampler=sampler,
            request=request,
            automaton=automaton,
            uniforms=uniforms,
        )
        return Round.joined(await self._submit(task))

    async def score(
        self, scorer: Scorer, texts: list[ReadText], gone: Gone | None = None, admitted: bool = False
    ) -> list[ScoredText]:
        """Each text's score, in order; `admitted`: the request was admitted (admit) before its texts were read."""
        contexts = sum(len(t.text) + 1 for t in texts)
        if not admitted:
            self.admit(contexts)
        future = asyncio.get_running_loop().create_future()
        task = ScoreTask(contexts_left=contexts, future=future, gone=gone, scorer=scorer, texts=texts)
        return [result for part in await self._submit(task) for result in part]

    async def next_chars(
        self, scorer: Scorer, prefix: ReadText, top: int | None, gone: Gone | None = None, admitted: bool = False
    ) -> NextChars:
        """The distribution after `prefix`; `admitted`: the request was admitted before its prefix was read."""
        if not admitted:
            self.admit(len(prefix.text) + 1)
        future = asyncio.get_running_loop().create_future()
        task = NextTask(
            contexts_left=len(prefix.text) + 1, future=future, gone=gone, scorer=scorer, texts=[prefix], top=top
        )
        ((result,),) = await self._submit(task)
        return result

    def admit(self, contexts: int) -> None:
        """Busy unless `contexts` more fit under the bound (an idle server takes any one request). Small
        requests have a reserve above the bound: the queue they would wait in is the large requests', and
        the scheduler serves them first anyway."""
        queued = self.queued_work
        limit = self.max_queued_work + (self.max_queued_work // 4 if contexts <= SMALL_REQUEST_CONTEXTS else 0)
        if queued and queued + contexts > limit:
            raise Busy(
                f"server busy: {queued} contexts of work are queued, {contexts} more would pass the limit "
                f"of {self.max_queued_work}; retry in {RETRY_AFTER_SECONDS} s"
            )

    def full(self) -> bool:
        """No request larger than a small one would be admitted now."""
        return self.queued_work >= self.max_queued_work

    async def _submit(self, task: Task) -> list[Any]:
        """Queue `task` and wait for the results of its slices, in order."""
        loop = asyncio.get_running_loop()
        self.tasks.append(task)
        if self.consumer is None or self.consumer.done() or self.consumer.get_loop() is not loop:
            self.consumer = loop.create_task(self._consume())
        try:
            parts: list[Any] = await task.future
            return parts
        finally:
            if task in self.tasks:  # cancelled while queued (e.g. shutdown): its work goes too
                self.tasks.remove(task)

    # -- the consumer -------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        try:
            await self._serve_queue()
        except Exception as exc:  # a bug here must not leave requests waiting forever: each gets the error
            for task in list(self.tasks):
                self._finish(task, exc)
            raise

    async def _serve_queue(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # requests parsed in this loop tick join the first batch
        while True:
            while True:  # a batch's tasks all finish with it, so an empty batch means nothing is left to do
                await self._drop_abandoned()
                batch = self._next_batch()
                if not batch:
                    break
                await self._run_batch(loop, batch)
            if self.since_trim < TRIM_AFTER_CONTEXTS:
                return
            self.since_trim = 0  # idle after much work: give the burst's freed memory back, then look again
            await loop.run_in_executor(self.executor, release_free_memory)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[Slice]) -> None:
        self.batch_sizes.append(len({id(s.task) for s in batch}))
        try:
            results = await loop.run_in_executor(self.executor, self._run, batch)
        except Exception as exc:  # surfaced to every request in the batch
            for s in batch:
                self._finish(s.task, exc)
            return
        for s, result in zip(batch, results, strict=True):
            s.task.add(result)
            if s.task.future.done() and s.task in self.tasks:
                self.tasks.remove(s.task)

    async def _drop_abandoned(self) -> None:
        for task in list(self.tasks):
            if task.future.done():
                self.tasks.remove(task)
            elif task.gone is not None and task.slices_taken and await task.gone():
                self.abandoned += 1
                self._finish(task, ClientGone())

    def _finish(self, task: Task, exc: BaseException) -> None:
        if not task.future.done():
            task.future.set_exception(exc)
        if task in self.tasks:
            self.tasks.remove(task)

    def _next_batch(self) -> list[Slice]:
        """Slices for one batch. Small requests (no more than one slice's floor of work) go whole, every batch;
        then the large ones in turn, each a slice of what the budget has left (at least the floor), until it
        is spent; at least one large request moves in every batch, so none starves."""
        batch: list[Slice] = []
        waiting = [t for t in self.tasks if t.next_item < t.items]
        budget = LONE_BATCH_SECONDS if len(waiting) == 1 else BATCH_SECONDS
        large = [t for t in waiting if t.contexts_left > t.floor()]
        for task in waiting:
            if task.contexts_left <= task.floor():
                piece = task.take(task.contexts_left)
                if piece is not None:
                    batch.append(piece)
                    budget -= piece.contexts * self.context_seconds[task.runner]
        for i, task in enumerate(large):
            if i and budget <= 0:
                break
            wanted = max(task.floor(), int(budget / self.context_seconds[task.runner]))
            piece = task.take(wanted)
            if piece is not None:
                batch.append(piece)
                budget -= piece.contexts * self.context_seconds[task.runner]
        if large:
            self.tasks.remove(large[0])  # the next batch starts with another large request
            self.tasks.append(large[0])
        return batch

    def _run(self, batch: list[Slice]) -> list[Any]:
        """In the worker thread: the batch's sampling slices grouped by sampler and sampling settings (one
        network pass for requests that draw alike), its scoring slices by scorer and kind of result, one call
        per group; results in batch order. Each group's time feeds its model's cost estimate."""
        results: list[Any] = [None] * len(batch)
        sampling: dict[tuple[Sampler, tuple[Any, ...], Automaton | None], list[int]] = defaultdict(list)
        scoring: dict[tuple[Scorer, bool], list[int]] = defaultdict(list)
        for i, s in enumerate(batch):
            task = s.task
            if isinstance(task, SampleTask):
                sampling[task.sampler, task.request.sampling, task.automaton].append(i)
            elif isinstance(task, ScoreTask):
                scoring[task.scorer, isinstance(task, NextTask)].append(i)
        for (sampler, _, automaton), members in sampling.items():
            started = perf_counter()
            tasks = [cast(SampleTask, batch[i].task) for i in members]
            blocks = [t.uniforms[:, batch[i].first : batch[i].last] for i, t in zip(members, tasks, strict=True)]
            for i, result in zip(members, sampler.sample_rounds(blocks, tasks[0].request, automaton), strict=True):
                results[i] = result
            self._learn(sampler, perf_counter() - started, sum(batch[i].contexts for i in members))
        for (scorer, after), members in scoring.items():
            started = perf_counter()
            scored_tasks = [cast(ScoreTask, batch[i].task) for i in members]
            texts = [t.texts[batch[i].first : batch[i].last] for i, t in zip(members, scored_tasks, strict=True)]
            read = list(itertools.chain.from_iterable(texts))
            scored: Iterator[Any]
            if after:
                scored = iter(scorer.next_chars_many(read, [cast(NextTask, t).top for t in scored_tasks]))
            else:
                scored = iter(scorer.score_many(read))
            for i, chunk in zip(members, texts, strict=True):
                results[i] = [next(scored) for _ in chunk]
            self._learn(scorer, perf_counter() - started, sum(batch[i].contexts for i in members))
        return results

    def _learn(self, key: object, seconds: float, contexts: int) -> None:
        if contexts:
            self.since_trim += contexts
            # A moving average: the cost per context shifts with the cache's hit rate and the machine's load.
            self.context_seconds[key] = 0.7 * self.context_seconds[key] + 0.3 * seconds / contexts

    def close(self) -> None:
        for task in list(self.tasks):
            self._finish(task, RuntimeError("the server is shutting down"))
        self.executor.shutdown(wait=False, cancel_futures=True)


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc's malloc_trim): a burst's buffers are freed but glibc keeps the
    pages, so resident memory would stay at the burst's peak. A no-op where there is no glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)
