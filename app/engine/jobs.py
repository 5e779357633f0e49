"""One /sample request from its validated parameters to its response: the rounds it plans and what it keeps.

Bounded: at most max_attempts rounds and a total row budget, and it stops early once IDLE_ROUNDS_LIMIT rounds
in a row found nothing new (an exhausted distribution, e.g. unique + top_k=1). Each round's uniforms come from
its own seed, so who runs the rounds, and how they are sliced and batched, does not change the names.

With `exact` or `similar_to`, the rounds draw POOL_PER_NAME candidates per name asked for, and the names are
chosen among them at the end (app.engine.selection), with a generator seeded from the request's seed.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import fields, replace

import numpy as np
import torch

from app.engine import selection
from app.engine.requests import SampleRequest
from app.engine.results import SampledName, SampleResult
from app.engine.sampler import Round, draw_uniforms

SERVER_SEED_BITS = 53  # server-picked seeds stay exact in JavaScript numbers
IDLE_ROUNDS_LIMIT = 3
ROW_BUDGET_FLOOR = 64  # rows a constrained request may always draw per round, however small n is
REPORTED_CONSTRAINTS = (
    "top_k",
    "top_p",
    "prefix",
    "suffix",
    "contains",
    "excludes",
    "pattern",
    "min_length",
    "max_length",
    "novel_only",
    "unique",
)
# The reported constraints in the request's field order.
REPORTED_ORDER = [f.name for f in fields(SampleRequest) if f.name in REPORTED_CONSTRAINTS]
POOL_PER_NAME = 10  # candidates drawn per name asked for when the names are chosen among them
MIN_POOL = 1000  # ... and at least this many: a choice among few candidates is a poor one
MAX_POOL = 10_000  # ... but no more than this (or n) in all


def pick_seed() -> int:
    """A seed for a request that gave none. The module's Mersenne Twister, seeded from os.urandom at start and
    again in every forked worker: a picked seed is returned to the client, so it needs no secrecy, and
    os.urandom's system call (as secrets would make) hands the GIL to the compute threads, a wait every request
    would pay."""
    return random.getrandbits(SERVER_SEED_BITS)


def round_seed(seed: int, attempt: int | str) -> int:
    """Round 0 uses the request seed itself; later rounds (and the choice among candidates, attempt "choice") a
    64-bit hash of (seed, round)."""
    if attempt == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class SampleJob:
    """Draw a round, add its result, repeat; then the result."""

    def __init__(
        self, request: SampleRequest, asked: SampleRequest, notes: list[str], words: frozenset[str], max_attempts: int
    ) -> None:
        """`request`: normalized, its seed filled in; `asked`: as sent (its prefix and max_length are what a
        shortfall message shows)."""
        self.request, self.asked, self.notes, self.words, self.max_attempts = request, asked, notes, words, max_attempts
        if request.seed is None:
            raise ValueError("the request is not normalized: its seed is unset")
        self.seed: int = request.seed
        pool = min(max(request.n * POOL_PER_NAME, MIN_POOL), max(request.n, MAX_POOL))
        self.wanted = pool if request.pooled else request.n  # candidates to draw
        self.samples: list[SampledName] = []  # the candidates kept, in the order drawn
        self.targets: list[float] = []  # exact: each candidate's ln p at the request's temperature
        self.seen: set[str] = set()
        self.drawn = self.attempts = self.idle_rounds = 0
        self.budget = max_attempts * max(self.wanted, ROW_BUDGET_FLOOR)  # total rows, all rounds

    def next_uniforms(self) -> np.ndarray | None:
        """The next round's randomness, (steps, rows) from the round's own seed; None when the job is done."""
        if (
            len(self.samples) >= self.wanted
            or self.attempts >= self.max_attempts
            or self.drawn >= self.budget
            or self.idle_rounds >= IDLE_ROUNDS_LIMIT
        ):
            return None
        generator = torch.Generator().manual_seed(round_seed(self.seed, self.attempts))
        return draw_uniforms(self._round_size(), self.request, generator)

    def _round_size(self) -> int:
        """Round 0 draws exactly what was asked; later rounds scale by the acceptance rate seen so far."""
        needed, budget_left = self.wanted - len(self.samples), self.budget - self.drawn
        if self.attempts == 0:
            return min(needed, budget_left)
        rate = max(len(self.samples), 1) / max(self.drawn, 1)
        wanted = math.ceil(needed / rate * 1.2)
        return max(1, min(wanted, 4 * max(needed, ROW_BUDGET_FLOOR // 4), budget_left))

    def add(self, result: Round) -> None:
        request, before = self.request, len(self.samples)
        shortest, longest = request.min_length, request.longest
        self.drawn += len(result.names)
        self.attempts += 1
        # exact weighs every copy of a name: `unique` applies when the names are drawn from the candidates.
        unique = request.unique and not request.exact
        targets = result.tempered_log_probs or result.log_probs
        for name, log_prob, rejected, drawn, target in zip(
            result.names, result.log_probs, result.rejected, result.drawn_log_probs, targets, strict=True
        ):
            novel = name not in self.words
            # The length bounds are the sampler's to keep; checked again so that no name outside them is returned.
            if (
                rejected
                or not shortest <= len(name) <= longest
                or (request.novel_only and not novel)
                or (unique and name in self.seen)
            ):
                continue
            self.seen.add(name)
            self.samples.append(SampledName(name, log_prob, drawn, novel))
            self.targets.append(target)
            if len(self.samples) == self.wanted:
                break
        self.idle_rounds = self.idle_rounds + 1 if len(self.samples) == before else 0

    def chosen(self) -> tuple[list[SampledName], float | None]:
        """The names to return, and with `exact` the candidates' effective sample size."""
        request, samples, ess = self.request, self.samples, None
        if request.exact:
            weights = selection.importance_weights(self.targets, [s.constrained_log_prob for s in samples])
            ess = selection.effective_sample_size(weights)
            rng = np.random.default_rng(round_seed(self.seed, "choice"))
            k = len(samples) if request.similar_to is not None else request.n
            picked = selection.resample([s.name for s in samples], weights, k, request.unique, rng)
            samples = [samples[i] for i in picked]
        if request.similar_to is not None:
            order = selection.closest([s.name for s in samples], request.similar_to, request.n)
            distances = selection.distances([samples[i].name for i in order], request.similar_to)
            samples = [replace(samples[i], distance=d) for i, d in zip(order, distances, strict=True)]
        return samples[: request.n], ess

    def result(self, model: str) -> SampleResult:
        n = self.request.n
        samples, ess = self.chosen()
        complete = len(samples) == n
        return SampleResult(
            model=model,
            names=[s.name for s in samples],
            seed=self.seed,
            samples=samples,
            requested=n,
            returned=len(samples),
            complete=complete,
            message=None if complete else self._shortfall(len(samples)),
            attempts=self.attempts,
            drawn=self.drawn,
            effective_sample_size=ess,
            params=self.request,
            notes=self.notes,
        )

    def _shortfall(self, returned: int) -> str:
        # The texts as read, the prefix and max_length as asked.
        shown = replace(self.request, prefix=self.asked.prefix, max_length=self.asked.max_length)
        active = [
            f"{k}={v!r}"
            for k in REPORTED_ORDER
            if (v := getattr(shown, k)) not in (None, "", False) and not (k == "min_length" and v == 1)
        ]
        return (
            f"only {returned} of {self.request.n} names satisfy the constraints after {self.attempts} "
            f"sampling rounds ({self.drawn} names drawn); the constraints ({', '.join(active) or 'none'}) are "
            "hard or impossible to satisfy under this model: relax them or ask for fewer names"
        )
