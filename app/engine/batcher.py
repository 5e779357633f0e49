"""Micro-batching of concurrent /sample rounds: one forward per step for many requests.

Requests put their planned rounds in a bounded queue and await them. A single consumer takes everything
queued (up to MAX_BATCH_ROWS rows), groups it by identical controls, and runs each group as one batched round
in a dedicated worker thread, so the event loop never waits on torch. While that round runs, new requests
queue up and form the next batch: under load batches grow by themselves, and an idle server adds no delay
(no timer; the consumer only yields once to the loop so requests parsed in the same tick join).

Each request's rows use its own generator and the sampler's per-row results do not depend on the batch
(see app/engine/sampler.py), so a request gets the same names alone or batched (tests/test_batcher.py).
A full queue raises QueueFull at once (the route answers 503 with Retry-After) rather than waiting.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from app.engine.engine import PlannedRound
from app.engine.sampler import Controls, Round, Sampler

MAX_QUEUED_ROUNDS = 256  # waiting rounds (one per request at a time); more is a 503, not an unbounded wait
MAX_BATCH_ROWS = 4096  # rows in one batched round; a larger queue is taken in several batches
RETRY_AFTER_SECONDS = 1


class QueueFull(Exception):
    """The sampling queue is full: the server is overloaded; retry later."""


@dataclass
class Waiting:
    planned: PlannedRound
    future: asyncio.Future[Round] = field(repr=False)


class SampleBatcher:
    def __init__(self, sampler: Sampler, max_queued: int = MAX_QUEUED_ROUNDS, max_rows: int = MAX_BATCH_ROWS):
        self.sampler = sampler
        self.max_queued = max_queued
        self.max_rows = max_rows
        self.queue: deque[Waiting] = deque()
        self.consumer: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="namegen-sampler")
        self.batch_sizes: list[int] = []  # requests per batch, most recent last (bounded; for tests and tuning)

    async def run(self, planned: PlannedRound) -> Round:
        """Run one planned round batched with whatever else is waiting."""
        if len(self.queue) >= self.max_queued:
            raise QueueFull(f"{len(self.queue)} sampling rounds are already queued")
        loop = asyncio.get_running_loop()
        waiting = Waiting(planned, loop.create_future())
        self.queue.append(waiting)
        if self.consumer is None or self.consumer.done():
            self.consumer = loop.create_task(self._consume())
        return await waiting.future

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # let requests already parsed in this loop tick join the first batch
        while self.queue:
            batch: list[Waiting] = []
            rows = 0
            while self.queue and (not batch or rows + self.queue[0].planned.rows <= self.max_rows):
                rows += self.queue[0].planned.rows
                batch.append(self.queue.popleft())
            batch = [w for w in batch if not w.future.done()]  # skip requests whose client has gone
            self.batch_sizes = [*self.batch_sizes[-99:], len(batch)]
            try:
                results = await loop.run_in_executor(self.executor, self.run_batch, [w.planned for w in batch])
            except Exception as exc:  # surfaced to every request in the batch (the route's error handling)
                for w in batch:
                    if not w.future.done():
                        w.future.set_exception(exc)
                continue
            for w, result in zip(batch, results, strict=True):
                if not w.future.done():
                    w.future.set_result(result)

    def run_batch(self, planned: list[PlannedRound]) -> list[Round]:
        """In the worker thread: one batched round per distinct controls, results in request order."""
        groups: dict[Controls, list[int]] = defaultdict(list)
        for i, p in enumerate(planned):
            groups[p.controls].append(i)
        results: list[Round | None] = [None] * len(planned)
        for controls, members in groups.items():
            rounds = self.sampler.sample_rounds([(planned[i].rows, planned[i].generator()) for i in members], controls)
            for i, r in zip(members, rounds, strict=True):
                results[i] = r
        return [r for r in results if r is not None]

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
