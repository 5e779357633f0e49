"""The model engine: the one path from a request's parameters to names or scores, for HTTP, CLI and tests.

It holds the sampler (with its context cache), the scorer, and the scheduler through which all their work
runs. Validation that needs the settings or the vocabulary happens here, once; the field-by-field checks
are app.http.schemas'. Every problem found is an InvalidInput in the one 422 shape.
"""

from __future__ import annotations

import asyncio
import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import orjson
import torch

from app.engine.artifact import Artifact
from app.engine.constraint_compiler import ConstraintCompiler
from app.engine.constraint_params import EXACT_NOTE, MASKING_NOTE, constraint_spec, normalized_spec, read_constraints
from app.engine.constraints import Automaton, ConstraintSpec
from app.engine.jobs import MAX_SEED, SampleJob, SampleSpec
from app.engine.patterns import CompilerBusy
from app.engine.problems import InvalidInput, Loc, Problem
from app.engine.sampler import Controls, Sampler
from app.engine.scheduler import Busy, Gone, Scheduler
from app.engine.scorer import Scorer
from app.engine.textrules import Normalized, TextRules, raw_problem
from app.hashing import file_sha256
from app.settings import Settings

WARM_CHUNK = 1000  # names per warm-up round
# A batch whose texts hold more characters than this is normalized off the event loop, in one thread for all:
# a full batch at the raw cap can be a hundred milliseconds of Unicode work, and the loop must not wait on it,
# nor compete for the interpreter with a thread per such batch.
READ_ON_THE_LOOP_CHARS = 8192
TEXT_READER = ThreadPoolExecutor(1, thread_name_prefix="namegen-read-texts")

__all__ = ["MAX_SEED", "Engine", "InvalidInput", "SampleSpec"]


@dataclass(frozen=True)
class SampleSetup:
    """A checked /sample request: the sampler's controls, the notes, the spec with its texts normalized, and the
    constraints to compile into an automaton (None: the sampler needs none)."""

    controls: Controls
    notes: list[str]
    spec: SampleSpec
    constraints: ConstraintSpec | None


class Engine:
    """One served model. Engines of one process share a scheduler (one queue, one bound, one compute thread);
    each has its own sampler and context cache."""

    def __init__(
        self, artifact: Artifact, settings: Settings, scheduler: Scheduler | None = None, name: str | None = None
    ) -> None:
        self.artifact = artifact
        self.settings = settings
        self.name = name or artifact.path.stem
        self.rules = TextRules(artifact.vocab)
        self.char_ids = {c: i for i, c in enumerate(artifact.vocab)}
        self.sampler = Sampler(
            artifact, cache_slots=settings.cache_contexts, threads=settings.resolved_sampler_threads()
        )
        self.scorer = Scorer(artifact)
        self.scheduler = scheduler or Scheduler(settings.max_queued_work)
        self.constraints = ConstraintCompiler(artifact.vocab, artifact.words)

    @functools.cached_property
    def sha256(self) -> str:
        """The artifact file's sha256, read when first asked (/model, metrics): the CLI never needs it."""
        return file_sha256(self.artifact.path)

    async def warm_up(self) -> None:
        """One real sample and one score through the whole path, so that ready means 'can serve'; then fill the
        context cache with `warm_names` names (fixed seeds), so the contexts requests need most are computed
        before the first request rather than during the first ones."""
        await self.sample(SampleSpec(n=min(8, self.settings.max_n), seed=0))
        await self.score_batch([self.artifact.vocab[1]])
        self.constraints.background  # noqa: B018  # built now rather than in the first constrained request
        controls = Controls(max_length=self.settings.max_name_length)
        for first in range(0, self.settings.warm_names, WARM_CHUNK):
            count = min(WARM_CHUNK, self.settings.warm_names - first)
            self.sampler.sample_round(count, controls, torch.Generator().manual_seed(first))

    def close(self) -> None:
        # The network's thread pool is shared by every engine over the same module (ContextNetwork.shared), and
        # the scheduler by every engine of the store (which closes it once).
        self.scheduler.close()

    # -- sampling ---------------------------------------------------------------------------------------

    async def sample(self, spec: SampleSpec, gone: Gone | None = None) -> dict[str, Any]:
        """Validate, then run the request's rounds through the scheduler until it has its names or its budget
        is spent. InvalidInput for a bad request, Busy when the server is overloaded, ClientGone if `gone`."""
        setup = self.sample_controls(spec)
        controls, notes = setup.controls, list(setup.notes)
        if setup.constraints is not None:
            controls = replace(controls, automaton=await self.automaton(setup.constraints))
            notes += [MASKING_NOTE, EXACT_NOTE] if spec.exact else [MASKING_NOTE]
        job = SampleJob(
            setup.spec, controls, notes, self.artifact.vocab, self.artifact.words, self.settings.max_attempts
        )
        admitted = False
        while (planned := job.next_round()) is not None:
            job.add(await self.scheduler.sample(self.sampler, planned.controls, planned.uniforms(), gone, admitted))
            admitted = True
        return {"model": self.name, **job.response()}

    def sample_now(self, spec: SampleSpec) -> dict[str, Any]:
        """sample() from synchronous code (CLI, warm-up, tests): the same path, in an event loop of its own."""
        return asyncio.run(self.sample(spec))

    async def automaton(self, constraints: ConstraintSpec) -> Automaton:
        """The constraints compiled (off the event loop: a pattern takes a worker process), or InvalidInput."""
        try:
            return await asyncio.to_thread(self.constraints.automaton, constraints)
        except CompilerBusy as exc:
            raise Busy(f"server busy: {exc}") from None

    def sample_controls(self, spec: SampleSpec) -> SampleSetup:
        """The checks that need the settings or the vocabulary, all problems at once; then the sampler's controls."""
        s, problems = self.settings, []
        if spec.n > s.max_n:
            problems.append(Problem(("n",), f"must be at most {s.max_n} (the max_n setting), got {spec.n}", "too_big"))
        max_length = spec.max_length if spec.max_length is not None else s.max_name_length
        if max_length > s.max_name_length:
            problems.append(
                Problem(
                    ("max_length",),
                    f"must be at most {s.max_name_length} (the max_name_length setting), got {max_length}",
                    "too_big",
                )
            )
        if spec.min_length > max_length:
            problems.append(
                Problem(("min_length",), f"must be at most max_length ({max_length}), got {spec.min_length}", "order")
            )
        prefix, prefix_problems = self.rules.read(spec.prefix, ("prefix",), "prefix", s.max_name_length, True)
        problems += prefix_problems
        if len(prefix.text) > max_length and not problems:
            problems.append(
                Problem(("prefix",), f"has {len(prefix.text)} characters, more than max_length ({max_length})", "order")
            )
        texts, notes, found = read_constraints(spec, self.rules, prefix.text, max_length, s.max_name_length)
        problems += found
        if problems:
            raise InvalidInput(problems)
        prefix_ids = tuple(self.char_ids[c] for c in prefix.text)
        controls = Controls(spec.temperature, spec.top_k, spec.top_p, prefix_ids, spec.min_length, max_length)
        constraints = constraint_spec(spec, texts, prefix.text, max_length)
        return SampleSetup(controls, [*prefix.notes, *notes], normalized_spec(spec, texts), constraints)

    # -- scoring ----------------------------------------------------------------------------------------

    async def score(self, text: str, gone: Gone | None = None) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads((await self.score_encoded([text], ("text",), gone))[0])
        return result

    async def score_batch(self, texts: list[str], gone: Gone | None = None) -> list[dict[str, Any]]:
        return [orjson.loads(result) for result in await self.score_encoded(texts, ("texts",), gone)]

    def score_now(self, texts: list[str]) -> list[dict[str, Any]]:
        """score_batch() from synchronous code (CLI, warm-up, tests)."""
        return asyncio.run(self.score_batch(texts))

    async def score_encoded(self, texts: list[str], loc: Loc, gone: Gone | None = None) -> list[bytes]:
        """Each text's /score result as JSON, in order. `loc` ("text",) for one text, ("texts",) for a batch.

        Normalize and check every text first: any invalid text makes the whole request a 422 naming each one
        by its index (and character position)."""
        single = loc == ("text",)
        if not single and not 1 <= len(texts) <= self.settings.max_batch:
            raise InvalidInput(
                [
                    Problem(
                        loc,
                        f"must hold between 1 and {self.settings.max_batch} texts (the max_batch setting), "
                        f"got {len(texts)}",
                        "batch_size",
                    )
                ]
            )
        where: list[Loc] = [loc] if single else [(*loc, i) for i in range(len(texts))]
        limit = self.settings.max_text_length
        too_long = [p for text, at in zip(texts, where, strict=True) if (p := raw_problem(text, at, limit))]
        if too_long:  # refused before any text is read
            raise InvalidInput(too_long)
        chars = sum(map(len, texts))
        self.scheduler.admit(chars + len(texts))  # before the work of checking them: busy is busy
        if chars > READ_ON_THE_LOOP_CHARS:
            loop = asyncio.get_running_loop()
            normalized, problems = await loop.run_in_executor(TEXT_READER, self.read_texts, texts, where, single)
        else:
            normalized, problems = self.read_texts(texts, where, single)
        if problems:
            raise InvalidInput(problems)

        def encode(i: int, result: dict[str, Any]) -> bytes:
            extra = {"input": texts[i], "normalized": texts[i] != result["text"], "notes": list(normalized[i].notes)}
            return orjson.dumps({"model": self.name, **result, **extra})

        return await self.scheduler.score(self.scorer, [n.text for n in normalized], encode, gone, admitted=True)

    def read_texts(self, texts: list[str], where: list[Loc], single: bool) -> tuple[list[Normalized], list[Problem]]:
        """Every text normalized and checked, with the problems of all of them."""
        normalized, problems = [], []
        for i, (text, at) in enumerate(zip(texts, where, strict=True)):
            norm, found = self.rules.read(text, at, "text" if single else f"texts[{i}]", self.settings.max_text_length)
            normalized.append(norm)
            problems += found
        return normalized, problems

    # -- what comes next ----------------------------------------------------------------------------------

    async def next_chars(self, prefix: str, top: int | None = None, gone: Gone | None = None) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(await self.next_chars_encoded(prefix, top, gone))
        return result

    async def next_chars_encoded(self, prefix: str, top: int | None = None, gone: Gone | None = None) -> bytes:
        """GET /next's JSON: the distribution over the character after `prefix` (normalized as /score normalizes
        text), most likely first, the end token included, and ln p of the prefix itself as a name's start."""
        norm, problems = self.rules.read(prefix, ("prefix",), "prefix", self.settings.max_text_length, True)
        if problems:
            raise InvalidInput(problems)
        self.scheduler.admit(len(norm.text) + 1)
        vocab = self.artifact.vocab

        def encode(i: int, result: dict[str, Any]) -> bytes:
            log_probs: list[float] = result["next_log_probs"]
            order = sorted(range(len(vocab)), key=lambda c: (-log_probs[c], c))[:top]
            return orjson.dumps(
                {
                    "model": self.name,
                    "prefix": result["text"],
                    "input": prefix,
                    "normalized": prefix != result["text"],
                    "notes": list(norm.notes),
                    # The scored positions but the last (the end token's): the prefix as a name's beginning.
                    "prefix_log_prob": -sum(c["loss"] for c in result["chars"][:-1]),
                    "next": [{"char": vocab[c], "prob": math.exp(log_probs[c]), "loss": -log_probs[c]} for c in order],
                }
            )

        (encoded,) = await self.scheduler.score(self.scorer, [norm.text], encode, gone, admitted=True, with_next=True)
        return encoded
