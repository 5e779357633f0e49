"""The model engine: validated sampling and scoring, shared by the HTTP routes and the CLI."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import asdict, dataclass
from typing import Any

import torch

from app.engine.artifact import Artifact
from app.engine.sampler import Controls, Round, Sampler
from app.engine.scorer import Scorer
from app.engine.textrules import InvalidInput, TextRules
from app.settings import Settings

MAX_SEED = 2**64 - 1
SERVER_SEED_BITS = 53  # server-picked seeds stay exact in JavaScript numbers
IDLE_ROUNDS_LIMIT = 3
WARM_CHUNK = 1000  # names per warm-up round
ROW_BUDGET_FLOOR = 64  # rows a constrained request may always draw per round, however small n is

__all__ = ["MAX_SEED", "Engine", "InvalidInput", "PlannedRound", "SampleJob", "SampleSpec"]


@dataclass(frozen=True)
class SampleSpec:
    """One /sample request, after per-field validation (app.schemas.SampleQuery)."""

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


def round_seed(seed: int, attempt: int) -> int:
    """Round 0 uses the request seed itself; later rounds a 64-bit hash of (seed, round)."""
    if attempt == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Engine:
    def __init__(self, artifact: Artifact, settings: Settings) -> None:
        self.artifact = artifact
        self.settings = settings
        self.rules = TextRules(artifact.vocab)
        self.char_ids = {c: i for i, c in enumerate(artifact.vocab)}
        self.sampler = Sampler(
            artifact, cache_slots=settings.cache_contexts, threads=settings.resolved_sampler_threads()
        )
        self.scorer = Scorer(artifact)

    def warm_up(self) -> None:
        """Run one real sample and one score so readiness means 'can serve', then fill the context cache.

        The fill draws `warm_names` names (fixed seeds) straight through the sampler: the contexts real
        requests will need most are computed before the first request rather than during the first ones.
        """
        # Sized to pass whatever limits the settings impose (max_n, max_text_length may be tiny).
        self.sample(SampleSpec(n=min(8, self.settings.max_n), seed=0))
        self.score_batch([self.artifact.vocab[1]])
        controls = Controls(max_length=self.settings.max_name_length)
        for first in range(0, self.settings.warm_names, WARM_CHUNK):
            count = min(WARM_CHUNK, self.settings.warm_names - first)
            self.sampler.sample_round(count, controls, torch.Generator().manual_seed(first))

    # -- sampling ---------------------------------------------------------------------------------------

    def start_sample(self, spec: SampleSpec) -> SampleJob:
        """Validate a request and plan its rounds; InvalidInput (a 422) for a bad one."""
        controls, notes = self._controls(spec)
        return SampleJob(self, spec, controls, notes)

    def sample(self, spec: SampleSpec) -> dict[str, Any]:
        """The synchronous path (CLI, warm-up, tests): each round straight through the sampler."""
        job = self.start_sample(spec)
        while (planned := job.next_round()) is not None:
            job.add(self.sampler.sample_round(planned.rows, planned.controls, planned.generator()))
        return job.response()

    def _controls(self, spec: SampleSpec) -> tuple[Controls, list[str]]:
        """Checks that need the settings or the vocabulary (the rest is in app.schemas)."""
        s = self.settings
        if not 1 <= spec.n <= s.max_n:
            raise InvalidInput(f"n must be between 1 and {s.max_n}, got {spec.n}")
        if not (math.isfinite(spec.temperature) and spec.temperature > 0):
            raise InvalidInput(f"temperature must be a finite number > 0, got {spec.temperature}")
        if spec.seed is not None and not 0 <= spec.seed <= MAX_SEED:
            raise InvalidInput(f"seed must be between 0 and 2**64-1, got {spec.seed}")
        if spec.top_k is not None and spec.top_k < 1:
            raise InvalidInput(f"top_k must be >= 1, got {spec.top_k}")
        if spec.top_p is not None and not 0 < spec.top_p <= 1:
            raise InvalidInput(f"top_p must be in (0, 1], got {spec.top_p}")
        max_length = spec.max_length if spec.max_length is not None else s.max_name_length
        if not 1 <= max_length <= s.max_name_length:
            raise InvalidInput(f"max_length must be between 1 and {s.max_name_length}, got {max_length}")
        if spec.min_length < 0 or spec.min_length > max_length:
            raise InvalidInput(f"min_length ({spec.min_length}) must be between 0 and max_length ({max_length})")
        notes = []
        prefix = self.rules.normalize(spec.prefix)
        if prefix != spec.prefix:
            notes.append(
                f"prefix {spec.prefix!r} was normalized to {prefix!r} (stripped"
                + (", lower-cased: the model's vocabulary is lower-case)" if self.rules.lowercase else ")")
            )
        self.rules.check(prefix, "prefix", max_length=s.max_name_length, allow_empty=True)
        if len(prefix) > max_length:
            raise InvalidInput(f"prefix {prefix!r} is {len(prefix)} characters, longer than max_length ({max_length})")
        prefix_ids = tuple(self.char_ids[c] for c in prefix)
        return Controls(spec.temperature, spec.top_k, spec.top_p, prefix_ids, spec.min_length, max_length), notes

    @staticmethod
    def _round_size(needed: int, drawn: int, accepted: int, attempts: int, budget_left: int) -> int:
        """Round 0 draws exactly what was asked; later rounds scale by the acceptance rate seen so far."""
        if attempts == 0:
            return min(needed, budget_left)
        rate = max(accepted, 1) / max(drawn, 1)
        wanted = math.ceil(needed / rate * 1.2)
        return max(1, min(wanted, 4 * max(needed, ROW_BUDGET_FLOOR // 4), budget_left))

    def _shortfall(self, spec: SampleSpec, found: int, attempts: int, drawn: int) -> str:
        active = [
            f"{k}={v!r}"
            for k, v in asdict(spec).items()
            if k in ("top_k", "top_p", "prefix", "min_length", "max_length", "novel_only", "unique")
            and v not in (None, "", False)
            and not (k == "min_length" and v == 1)
        ]
        return (
            f"only {found} of {spec.n} names satisfy the constraints after {attempts} sampling rounds "
            f"({drawn} names drawn); the constraints ({', '.join(active) or 'none'}) are hard or "
            "impossible to satisfy under this model: relax them or ask for fewer names"
        )

    # -- scoring ----------------------------------------------------------------------------------------

    def _checked(self, text: str, what: str) -> str:
        normalized = self.rules.normalize(text)
        self.rules.check(normalized, what, max_length=self.settings.max_text_length)
        return normalized

    def score(self, text: str) -> dict[str, Any]:
        return self.score_batch([text], single=True)[0]

    def score_batch(self, texts: list[str], single: bool = False) -> list[dict[str, Any]]:
        """Validate every text first; any invalid text makes the whole batch a 422 naming each by index."""
        if not single and not 1 <= len(texts) <= self.settings.max_batch:
            raise InvalidInput(f"texts must hold between 1 and {self.settings.max_batch} strings, got {len(texts)}")
        normalized, problems = [], []
        for i, text in enumerate(texts):
            try:
                normalized.append(self._checked(text, "text" if single else f"texts[{i}]"))
            except InvalidInput as exc:
                problems.append(str(exc))
        if problems:
            shown = problems[:20] + ([f"... and {len(problems) - 20} more invalid texts"] if len(problems) > 20 else [])
            raise InvalidInput("; ".join(shown))
        results = self.scorer.score_many(normalized)
        for original, result in zip(texts, results, strict=True):
            result["input"] = original
            result["normalized"] = original != result["text"]
        return results


@dataclass(frozen=True)
class PlannedRound:
    """One sampling round a request needs: how many rows, how, and from which seed."""

    rows: int
    controls: Controls
    seed: int  # 64-bit; the round's uniforms come from torch.Generator().manual_seed(seed)

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)


class SampleJob:
    """One /sample request across its rounds: plan a round, add its result, repeat, then the response.

    Bounded: at most max_attempts rounds and a total row budget, and it stops early once IDLE_ROUNDS_LIMIT
    rounds in a row found nothing new (an exhausted distribution, e.g. unique + top_k=1). Who runs the rounds
    (the sampler directly, or the micro-batcher) does not change the names: each round has its own seed.
    """

    def __init__(self, engine: Engine, spec: SampleSpec, controls: Controls, notes: list[str]) -> None:
        self.engine, self.spec, self.controls, self.notes = engine, spec, controls, notes
        self.seed = spec.seed if spec.seed is not None else secrets.randbits(SERVER_SEED_BITS)
        self.samples: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.drawn = self.attempts = self.idle_rounds = 0
        self.budget = engine.settings.max_attempts * max(spec.n, ROW_BUDGET_FLOOR)  # total rows, all rounds

    def next_round(self) -> PlannedRound | None:
        if (
            len(self.samples) >= self.spec.n
            or self.attempts >= self.engine.settings.max_attempts
            or self.drawn >= self.budget
            or self.idle_rounds >= IDLE_ROUNDS_LIMIT
        ):
            return None
        rows = Engine._round_size(
            self.spec.n - len(self.samples), self.drawn, len(self.samples), self.attempts, self.budget - self.drawn
        )
        return PlannedRound(rows, self.controls, round_seed(self.seed, self.attempts))

    def add(self, result: Round) -> None:
        spec, words, before = self.spec, self.engine.artifact.words, len(self.samples)
        self.drawn += len(result.names)
        self.attempts += 1
        for name, log_prob, rejected in zip(result.names, result.log_probs, result.rejected, strict=True):
            novel = name not in words
            if rejected or (spec.novel_only and not novel) or (spec.unique and name in self.seen):
                continue
            self.seen.add(name)
            self.samples.append({"name": name, "log_prob": log_prob, "novel": novel})
            if len(self.samples) == spec.n:
                break
        self.idle_rounds = self.idle_rounds + 1 if len(self.samples) == before else 0

    def response(self) -> dict[str, Any]:
        spec, samples = self.spec, self.samples
        complete = len(samples) == spec.n
        params = {
            **vars(spec),  # a frozen dataclass without slots: vars() is its fields (asdict would deep-copy)
            "seed": self.seed,
            "prefix": "".join(self.engine.artifact.vocab[i] for i in self.controls.prefix_ids),
            "max_length": self.controls.max_length,
        }
        return {
            "names": [s["name"] for s in samples],
            "seed": self.seed,
            "samples": samples,
            "requested": spec.n,
            "returned": len(samples),
            "complete": complete,
            "message": None if complete else self.engine._shortfall(spec, len(samples), self.attempts, self.drawn),
            "attempts": self.attempts,
            "params": params,
            "notes": self.notes,
        }
