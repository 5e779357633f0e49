"""The model engine: one served model, from an operation's request to its typed result, for HTTP, CLI and tests.

It holds the model's network (built once, shared by its sampler and scorer), the sampler with its context cache,
the scorer, and the scheduler through which all their work runs. The checks that need the limits, the
vocabulary or several fields happen here, once; each field's own checks are the caller's (app.http.schemas).
Every problem found is an InvalidInput naming the field of the request.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

import torch

from app.engine.artifact import Artifact
from app.engine.constraint_compiler import ConstraintCompiler
from app.engine.constraints import Automaton, ConstraintSpec
from app.engine.jobs import SampleJob
from app.engine.limits import EngineLimits
from app.engine.network import ContextNetwork
from app.engine.patterns import CompilerBusy
from app.engine.problems import FieldProblem, InvalidInput, Loc
from app.engine.requests import NextRequest, SampleRequest, ScoreBatchRequest, ScoreRequest
from app.engine.results import NextChars, SampleResult, ScoredBatch, ScoredText
from app.engine.sample_checks import EXACT_NOTE, MASKING_NOTE, read_sample_request
from app.engine.sampler import NetworkWork, Sampler
from app.engine.scheduler import Busy, Scheduler
from app.engine.scorer import ReadText, Scorer
from app.engine.tasks import Gone
from app.engine.textrules import TextRules, raw_problem
from app.hashing import file_sha256

WARM_CHUNK = 1000  # names per warm-up round
# A batch whose texts hold more characters than this is normalized off the event loop, in one thread for all:
# a full batch at the raw cap can be a hundred milliseconds of Unicode work, and the loop must not wait on it,
# nor compete for the interpreter with a thread per such batch.
READ_ON_THE_LOOP_CHARS = 8192
TEXT_READER = ThreadPoolExecutor(1, thread_name_prefix="namegen-read-texts")


class Engine:
    """One served model. Engines of one process share a scheduler (one queue, one bound, one compute thread);
    each has its own network, sampler and context cache."""

    def __init__(
        self,
        artifact: Artifact,
        limits: EngineLimits | None = None,
        scheduler: Scheduler | None = None,
        name: str | None = None,
    ) -> None:
        self.artifact = artifact
        self.limits = limits = limits or EngineLimits()
        self.name = name or artifact.path.stem
        self.rules = TextRules(artifact.vocab)
        network = ContextNetwork(artifact.module, limits.sampler_threads)
        self.sampler = Sampler(artifact, network, cache_slots=limits.cache_contexts)
        self.scorer = Scorer(artifact, network, self.name)
        self.scheduler = scheduler or Scheduler(limits.max_queued_work)
        self.constraints = ConstraintCompiler(artifact.vocab, artifact.words)

    @functools.cached_property
    def sha256(self) -> str:
        """The artifact file's sha256, read when first asked (/model, metrics): the CLI never needs it."""
        return file_sha256(self.artifact.path)

    def unreported_network_work(self) -> NetworkWork:
        """What the sampler's context cache and network did since the last call (for counters that only go up)."""
        return self.sampler.stats.take_unreported()

    async def warm_up(self) -> None:
        """One real sample and one score through the whole path, so that ready means 'can serve'; then fill the
        context cache with `warm_names` names (fixed seeds), so the contexts requests need most are computed
        before the first request rather than during the first ones."""
        await self.sample(SampleRequest(n=min(8, self.limits.max_n), seed=0))
        await self.score_batch(ScoreBatchRequest((self.artifact.vocab[1],)))
        self.constraints.background  # noqa: B018  # built now rather than in the first constrained request
        plain = SampleRequest(max_length=self.limits.max_name_length)
        for first in range(0, self.limits.warm_names, WARM_CHUNK):
            count = min(WARM_CHUNK, self.limits.warm_names - first)
            self.sampler.sample_round(count, plain, torch.Generator().manual_seed(first))

    def close(self) -> None:
        # The scheduler may be the store's, shared by every engine (the store then closes it once).
        self.scheduler.close()

    # -- sampling ---------------------------------------------------------------------------------------

    async def sample(self, request: SampleRequest, gone: Gone | None = None) -> SampleResult:
        """Check and normalize the request, then run its rounds through the scheduler until it has its names or
        its budget is spent. InvalidInput for a bad request, Busy when the server is overloaded, ClientGone if
        `gone`."""
        normalized, notes, constraints = read_sample_request(request, self.rules, self.limits)
        automaton = None
        if constraints is not None:
            automaton = await self.automaton(constraints)
            notes += [MASKING_NOTE, EXACT_NOTE] if normalized.exact else [MASKING_NOTE]
        job = SampleJob(normalized, request, notes, self.artifact.words, self.limits.max_attempts)
        admitted = False
        while (uniforms := job.next_uniforms()) is not None:
            job.add(await self.scheduler.sample(self.sampler, normalized, automaton, uniforms, gone, admitted))
            admitted = True
        return job.result(self.name)

    def sample_now(self, request: SampleRequest) -> SampleResult:
        """sample() from synchronous code (CLI, tests): the same path, in an event loop of its own."""
        return asyncio.run(self.sample(request))

    async def automaton(self, constraints: ConstraintSpec) -> Automaton:
        """The constraints compiled (off the event loop: a pattern takes a worker process), or InvalidInput."""
        try:
            return await asyncio.to_thread(self.constraints.automaton, constraints)
        except CompilerBusy as exc:
            raise Busy(f"server busy: {exc}") from None

    # -- scoring ----------------------------------------------------------------------------------------

    async def score(self, request: ScoreRequest, gone: Gone | None = None) -> ScoredText:
        (result,) = await self._score([request.text], [("text",)], ["text"], gone)
        return result

    async def score_batch(self, request: ScoreBatchRequest, gone: Gone | None = None) -> ScoredBatch:
        """Every text scored, in order. Any invalid text makes the whole request invalid, each one named by its
        index (and character position)."""
        texts = request.texts
        if not 1 <= len(texts) <= self.limits.max_batch:
            raise InvalidInput(
                [
                    FieldProblem(
                        ("texts",),
                        f"must hold between 1 and {self.limits.max_batch} texts (the max_batch setting), "
                        f"got {len(texts)}",
                        "batch_size",
                    )
                ]
            )
        where: list[Loc] = [("texts", i) for i in range(len(texts))]
        return ScoredBatch(await self._score(list(texts), where, [f"texts[{i}]" for i in range(len(texts))], gone))

    def score_now(self, texts: list[str]) -> list[ScoredText]:
        """score_batch() from synchronous code (CLI, tests)."""
        return asyncio.run(self.score_batch(ScoreBatchRequest(tuple(texts)))).results

    async def _score(
        self, texts: list[str], where: list[Loc], labels: list[str], gone: Gone | None
    ) -> list[ScoredText]:
        """Refuse texts over the raw cap unread; admit the work; read every text; then score them. `where` locates
        each text in the request (its problems' loc), `labels` names it in their messages."""
        limit = self.limits.max_text_length
        too_long = [p for text, at in zip(texts, where, strict=True) if (p := raw_problem(text, at, limit))]
        if too_long:
            raise InvalidInput(too_long)
        chars = sum(map(len, texts))
        self.scheduler.admit(chars + len(texts))  # before the work of checking them: busy is busy
        if chars > READ_ON_THE_LOOP_CHARS:
            loop = asyncio.get_running_loop()
            read, problems = await loop.run_in_executor(TEXT_READER, self.read_texts, texts, where, labels)
        else:
            read, problems = self.read_texts(texts, where, labels)
        if problems:
            raise InvalidInput(problems)
        return await self.scheduler.score(self.scorer, read, gone, admitted=True)

    def read_texts(
        self, texts: list[str], where: list[Loc], labels: list[str]
    ) -> tuple[list[ReadText], list[FieldProblem]]:
        """Every text normalized and checked, with the problems of all of them."""
        read, problems = [], []
        for text, at, label in zip(texts, where, labels, strict=True):
            norm, found = self.rules.read(text, at, label, self.limits.max_text_length)
            read.append(ReadText(text, norm.text, norm.notes))
            problems += found
        return read, problems

    # -- what comes next ----------------------------------------------------------------------------------

    async def next_chars(self, request: NextRequest, gone: Gone | None = None) -> NextChars:
        """The distribution over the character after the prefix (normalized as /score normalizes text), most
        likely first, the end token included, and ln p of the prefix itself as a name's start."""
        norm, problems = self.rules.read(request.prefix, ("prefix",), "prefix", self.limits.max_text_length, True)
        if problems:
            raise InvalidInput(problems)
        self.scheduler.admit(len(norm.text) + 1)
        prefix = ReadText(request.prefix, norm.text, norm.notes)
        return await self.scheduler.next_chars(self.scorer, prefix, request.top, gone, admitted=True)
