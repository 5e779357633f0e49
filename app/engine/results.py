"""What the engine returns: typed results whose fields are in the order of the HTTP API's JSON keys.

The HTTP edge and the CLI's --json encode them as they are (orjson serializes dataclasses field by field, in
declaration order), so the order of the fields here is the API's. Slotted, not frozen: many are made per
request, and a frozen dataclass's __init__ costs about twice as much.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.requests import SampleRequest


@dataclass(slots=True)
class SampledName:
    name: str
    log_prob: float  # ln p(name + end) under the model at temperature 1, untruncated, prefix included
    constrained_log_prob: float  # ln q: as the sampler drew it (temperature, truncation, guidance)
    novel: bool  # not in the training data
    distance: int | None = None  # Damerau-Levenshtein distance to similar_to


@dataclass(slots=True)
class SampleResult:
    model: str
    names: list[str]
    seed: int
    samples: list[SampledName]
    requested: int
    returned: int
    complete: bool
    message: str | None  # why fewer names came back; None when complete
    attempts: int
    drawn: int
    effective_sample_size: float | None
    params: SampleRequest  # the normalized request, its seed filled in
    notes: list[str]


@dataclass(slots=True)
class CharLoss:
    char: str
    loss: float  # -ln p, nats
    prob: float


@dataclass(slots=True)
class ScoredText:
    model: str
    text: str  # as scored (normalized)
    chars: list[CharLoss]  # one per predicted position, the end token included
    total_loss: float
    mean_loss: float
    perplexity: float
    percentile: float | None  # None for an artifact without mean-loss quantiles
    input: str  # as sent
    normalized: bool
    notes: list[str]


@dataclass(slots=True)
class ScoredBatch:
    results: list[ScoredText]


@dataclass(slots=True)
class NextChar:
    char: str
    prob: float
    loss: float


@dataclass(slots=True)
class NextChars:
    model: str
    prefix: str  # as read (normalized)
    input: str  # as sent
    normalized: bool
    notes: list[str]
    prefix_log_prob: float
    next: list[NextChar]  # most likely first, ties in vocabulary order
