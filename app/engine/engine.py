"""The model engine: the one path from a request's parameters to names or scores, for HTTP, CLI and tests.

It holds the sampler (with its context cache), the scorer, and the scheduler through which all their work
runs. Validation that needs the settings or the vocabulary happens here, once; the field-by-field checks
are app.schemas'. Every problem found is an InvalidInput in the one 422 shape.
"""

from __future__ import annotations

import asyncio
import functools
import math
from typing import Any

import orjson
import torch

from app.engine.artifact import Artifact
from app.engine.jobs import MAX_SEED, SampleJob, SampleSpec
from app.engine.problems import InvalidInput, Loc, Problem
from app.engine.sampler import Controls, Sampler
from app.engine.scheduler import Gone, Scheduler
from app.engine.scorer import Scorer
from app.engine.textrules import TextRules
from app.hashing import file_sha256
from app.settings import Settings

WARM_CHUNK = 1000  # names per warm-up round

__all__ = ["MAX_SEED", "Engine", "InvalidInput", "SampleSpec"]


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
        controls, notes = self.sample_controls(spec)
        job = SampleJob(spec, controls, notes, self.artifact.vocab, self.artifact.words, self.settings.max_attempts)
        admitted = False
        while (planned := job.next_round()) is not None:
            job.add(await self.scheduler.sample(self.sampler, planned.controls, planned.uniforms(), gone, admitted))
            admitted = True
        return {"model": self.name, **job.response()}

    def sample_now(self, spec: SampleSpec) -> dict[str, Any]:
        """sample() from synchronous code (CLI, warm-up, tests): the same path, in an event loop of its own."""
        return asyncio.run(self.sample(spec))

    def sample_controls(self, spec: SampleSpec) -> tuple[Controls, list[str]]:
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
        prefix = self.rules.normalize(spec.prefix, "prefix")
        problems += self.rules.problems(prefix.text, ("prefix",), max_length=s.max_name_length, allow_empty=True)
        if len(prefix.text) > max_length and not problems:
            problems.append(
                Problem(("prefix",), f"has {len(prefix.text)} characters, more than max_length ({max_length})", "order")
            )
        if problems:
            raise InvalidInput(problems)
        prefix_ids = tuple(self.char_ids[c] for c in prefix.text)
        controls = Controls(spec.temperature, spec.top_k, spec.top_p, prefix_ids, spec.min_length, max_length)
        return controls, list(prefix.notes)

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
        self.scheduler.admit(sum(len(t) + 1 for t in texts))  # before the work of checking them: busy is busy
        normalized, problems = [], []
        for i, text in enumerate(texts):
            where: Loc = loc if single else (*loc, i)
            norm = self.rules.normalize(text, "text" if single else f"texts[{i}]")
            normalized.append(norm)
            problems += self.rules.problems(norm.text, where, max_length=self.settings.max_text_length)
        if problems:
            raise InvalidInput(problems)

        def encode(i: int, result: dict[str, Any]) -> bytes:
            extra = {"input": texts[i], "normalized": texts[i] != result["text"], "notes": list(normalized[i].notes)}
            return orjson.dumps({"model": self.name, **result, **extra})

        return await self.scheduler.score(self.scorer, [n.text for n in normalized], encode, gone, admitted=True)

    # -- what comes next ----------------------------------------------------------------------------------

    async def next_chars(self, prefix: str, top: int | None = None, gone: Gone | None = None) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(await self.next_chars_encoded(prefix, top, gone))
        return result

    async def next_chars_encoded(self, prefix: str, top: int | None = None, gone: Gone | None = None) -> bytes:
        """GET /next's JSON: the distribution over the character after `prefix` (normalized as /score normalizes
        text), most likely first, the end token included, and ln p of the prefix itself as a name's start."""
        self.scheduler.admit(len(prefix) + 1)
        norm = self.rules.normalize(prefix, "prefix")
        limit = self.settings.max_text_length
        problems = self.rules.problems(norm.text, ("prefix",), max_length=limit, allow_empty=True)
        if problems:
            raise InvalidInput(problems)
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
