"""The scheduler's queued work, typed by operation: a sampling round, texts to score, a prefix's next character.

Each is handed out in slices of its items (rows to sample, texts to score), sized in contexts: a sampling row
of s steps looks up s contexts, a text of length L is L + 1 windows. A sampling row depends only on its own
uniforms and a text's score only on the text, so slicing changes no result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.constraints import Automaton
from app.engine.requests import SampleRequest
from app.engine.sampler import Sampler
from app.engine.scorer import ReadText, Scorer

MIN_SLICE_ROWS = 64  # a sampling slice's floor
MIN_SLICE_CONTEXTS = 2048  # a scoring slice's floor (characters)

Gone = Callable[[], Awaitable[bool]]


@dataclass(eq=False, kw_only=True)  # compared by identity: it is looked up in the queue
class Task:
    """One request's queued work, handed out in slices of its items (rows to sample, texts to score)."""

    contexts_left: int
    future: asyncio.Future[Any]
    gone: Gone | None
    next_item: int = 0  # the next item to hand out
    parts: list[Any] = field(default_factory=list)  # results of the slices so far, in order
    slices_taken: int = 0
    slices_done: int = 0

    @property
    def runner(self) -> Sampler | Scorer:
        """What runs this task: cost estimates are per model and kind of work."""
        raise NotImplementedError

    @property
    def items(self) -> int:
        raise NotImplementedError

    def floor(self) -> int:
        """The smallest slice worth a turn, in contexts."""
        raise NotImplementedError

    def slice_end(self, first: int, contexts: int) -> tuple[int, int]:
        """Where a slice from `first` of about `contexts` contexts (at least one item) ends, and its contexts."""
        raise NotImplementedError

    def take(self, contexts: int) -> Slice | None:
        """The next slice, of about `contexts` contexts (at least one item), or None when all handed out."""
        if self.next_item >= self.items:
            return None
        first = self.next_item
        last, size = self.slice_end(first, contexts)
        self.next_item = last
        self.contexts_left -= size
        self.slices_taken += 1
        return Slice(self, first, last, size)

    def add(self, part: Any) -> None:
        self.parts.append(part)
        self.slices_done += 1
        if self.next_item >= self.items and self.slices_done == self.slices_taken and not self.future.done():
            self.future.set_result(self.parts)


@dataclass(eq=False, kw_only=True)
class SampleTask(Task):
    """A sampling round of a normalized request: one row per column of its uniforms."""

    sampler: Sampler
    request: SampleRequest
    automaton: Automaton | None
    uniforms: np.ndarray  # (steps, rows)

    @property
    def runner(self) -> Sampler:
        return self.sampler

    @property
    def items(self) -> int:
        return int(self.uniforms.shape[1])

    def floor(self) -> int:
        # A sampling slice makes one network call per step whatever its rows: enough rows to spread its cost.
        return MIN_SLICE_ROWS * int(self.uniforms.shape[0])

    def slice_end(self, first: int, contexts: int) -> tuple[int, int]:
        steps = int(self.uniforms.shape[0])
        last = min(self.items, first + max(1, contexts // steps))
        return last, (last - first) * steps


@dataclass(eq=False, kw_only=True)
class ScoreTask(Task):
    """Texts to score, already read: each gives a ScoredText."""

    scorer: Scorer
    texts: list[ReadText]

    @property
    def runner(self) -> Scorer:
        return self.scorer

    @property
    def items(self) -> int:
        return len(self.texts)

    def floor(self) -> int:
        return MIN_SLICE_CONTEXTS

    def slice_end(self, first: int, contexts: int) -> tuple[int, int]:
        last, size = first, 0
        while last < self.items and (last == first or size + len(self.texts[last].text) + 1 <= contexts):
            size += len(self.texts[last].text) + 1
            last += 1
        return last, size


@dataclass(eq=False, kw_only=True)
class NextTask(ScoreTask):
    """A prefix, already read (the one text): its distribution of the next character (NextChars)."""

    top: int | None  # at most this many characters; None: all


@dataclass(eq=False)
class Slice:
    task: Task
    first: int
    last: int
    contexts: int
