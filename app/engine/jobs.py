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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.engine import selection
from app.engine.sampler import Controls, Round, draw_uniforms

MAX_SEED = 2**64 - 1
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
POOL_PER_NAME = 10  # candidates drawn per name asked for when the names are chosen among them
MIN_POOL = 1000  # ... and at least this many: a choice among few candidates is a poor one
MAX_POOL = 10_000  # ... but no more than this (or n) in all


@dataclass(frozen=True)
class SampleSpec:
    """A /sample request's parameters, each field already checked on its own (app.http.schemas.SampleQuery)."""

    n: int = 10
    temperature: float = 1.0
    seed: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    prefix: str = ""
    min_length: int = 1
    max_length: int | None = None
    novel_only: bool = False
    unique: bool = False
    suffix: str = ""
    contains: str = ""
    excludes: str = ""
    pattern: str | None = None
    similar_to: str | None = None
    exact: bool = False

    @property
    def pooled(self) -> bool:
        """The names are chosen among more candidates than n."""
        return self.exact or self.similar_to is not None


def round_seed(seed: int, attempt: int | str) -> int:
    """Round 0 uses the request seed itself; later rounds (and the choice among candidates, attempt "choice") a
    64-bit hash of (seed, round)."""
    if attempt == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class PlannedRound:
    """One sampling round a request needs: how many rows, how, and from which seed."""

    rows: int
    controls: Controls
    seed: int  # 64-bit; the round's uniforms come from torch.Generator().manual_seed(seed)

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    def uniforms(self) -> np.ndarray:
        return draw_uniforms(self.rows, self.controls, self.generator())


class SampleJob:
    """Plan a round, add its result, repeat; then the response."""

    def __init__(
        self,
        spec: SampleSpec,
        controls: Controls,
        notes: list[str],
        vocab: tuple[str, ...],
        words: frozenset[str],
        max_attempts: int,
    ) -> None:
        self.spec, self.controls, self.notes = spec, controls, notes
        self.vocab, self.words, self.max_attempts = vocab, words, max_attempts
        # The module's Mersenne Twister, seeded from os.urandom at start and again in every forked worker: a
        # picked seed is returned to the client, so it needs no secrecy, and os.urandom's system call (as
        # secrets would make) hands the GIL to the compute threads, a wait every request would pay.
        self.seed = spec.seed if spec.seed is not None else random.getrandbits(SERVER_SEED_BITS)
        pool = min(max(spec.n * POOL_PER_NAME, MIN_POOL), max(spec.n, MAX_POOL))
        self.wanted = pool if spec.pooled else spec.n  # candidates to draw
        self.samples: list[dict[str, Any]] = []  # the candidates kept, in the order drawn
        self.targets: list[float] = []  # exact: each candidate's ln p at the request's temperature
        self.seen: set[str] = set()
        self.drawn = self.attempts = self.idle_rounds = 0
        self.budget = max_attempts * max(self.wanted, ROW_BUDGET_FLOOR)  # total rows, all rounds

    def next_round(self) -> PlannedRound | None:
        if (
            len(self.samples) >= self.wanted
            or self.attempts >= self.max_attempts
            or self.drawn >= self.budget
            or self.idle_rounds >= IDLE_ROUNDS_LIMIT
        ):
            return None
        return PlannedRound(self._round_size(), self.controls, round_seed(self.seed, self.attempts))

    def _round_size(self) -> int:
        """Round 0 draws exactly what was asked; later rounds scale by the acceptance rate seen so far."""
        needed, budget_left = self.wanted - len(self.samples), self.budget - self.drawn
        if self.attempts == 0:
            return min(needed, budget_left)
        rate = max(len(self.samples), 1) / max(self.drawn, 1)
        wanted = math.ceil(needed / rate * 1.2)
        return max(1, min(wanted, 4 * max(needed, ROW_BUDGET_FLOOR // 4), budget_left))

    def add(self, result: Round) -> None:
        spec, c, before = self.spec, self.controls, len(self.samples)
        self.drawn += len(result.names)
        self.attempts += 1
        # exact weighs every copy of a name: `unique` applies when the names are drawn from the candidates.
        unique = spec.unique and not spec.exact
        targets = result.tempered_log_probs or result.log_probs
        for name, log_prob, rejected, drawn, target in zip(
            result.names, result.log_probs, result.rejected, result.drawn_log_probs, targets, strict=True
        ):
            novel = name not in self.words
            # The length bounds are the sampler's to keep; checked again so that no name outside them is returned.
            if (
                rejected
                or not c.min_length <= len(name) <= c.max_length
                or (spec.novel_only and not novel)
                or (unique and name in self.seen)
            ):
                continue
            self.seen.add(name)
            self.samples.append(
                {"name": name, "log_prob": log_prob, "constrained_log_prob": drawn, "novel": novel, "distance": None}
            )
            self.targets.append(target)
            if len(self.samples) == self.wanted:
                break
        self.idle_rounds = self.idle_rounds + 1 if len(self.samples) == before else 0

    def chosen(self) -> tuple[list[dict[str, Any]], float | None]:
        """The names to return, and with `exact` the candidates' effective sample size."""
        spec, samples, ess = self.spec, self.samples, None
        if spec.exact:
            weights = selection.importance_weights(self.targets, [s["constrained_log_prob"] for s in samples])
            ess = selection.effective_sample_size(weights)
            rng = np.random.default_rng(round_seed(self.seed, "choice"))
            k = len(samples) if spec.similar_to is not None else spec.n
            picked = selection.resample([s["name"] for s in samples], weights, k, spec.unique, rng)
            samples = [dict(samples[i]) for i in picked]
        if spec.similar_to is not None:
            order = selection.closest([s["name"] for s in samples], spec.similar_to, spec.n)
            distances = selection.distances([samples[i]["name"] for i in order], spec.similar_to)
            samples = [{**samples[i], "distance": d} for i, d in zip(order, distances, strict=True)]
        return samples[: spec.n], ess

    def response(self) -> dict[str, Any]:
        spec = self.spec
        samples, ess = self.chosen()
        complete = len(samples) == spec.n
        params = {
            **vars(spec),  # a frozen dataclass without slots: vars() is its fields (asdict would deep-copy)
            "seed": self.seed,
            "prefix": "".join(self.vocab[i] for i in self.controls.prefix_ids),
            "max_length": self.controls.max_length,
        }
        return {
            "names": [s["name"] for s in samples],
            "seed": self.seed,
            "samples": samples,
            "requested": spec.n,
            "returned": len(samples),
            "complete": complete,
            "message": None if complete else self._shortfall(len(samples)),
            "attempts": self.attempts,
            "drawn": self.drawn,
            "effective_sample_size": ess,
            "params": params,
            "notes": self.notes,
        }

    def _shortfall(self, returned: int) -> str:
        active = [
            f"{k}={v!r}"
            for k, v in vars(self.spec).items()
            if k in REPORTED_CONSTRAINTS and v not in (None, "", False) and not (k == "min_length" and v == 1)
        ]
        return (
            f"only {returned} of {self.spec.n} names satisfy the constraints after {self.attempts} "
            f"sampling rounds ({self.drawn} names drawn); the constraints ({', '.join(active) or 'none'}) are "
            "hard or impossible to satisfy under this model: relax them or ask for fewer names"
        )
