"""One request type per operation: what the engine is asked, each field already checked on its own.

The HTTP edge's query and body models (app.http.schemas) and the CLI build these; the engine checks what needs
its limits, the vocabulary or several fields at once, normalizes the texts, and hands the normalized request,
unchanged, to the scheduler and the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SEED = 2**64 - 1


@dataclass(frozen=True, slots=True)
class SampleRequest:
    """GET /sample's parameters. Normalized by the engine: texts read into the vocabulary, max_length and the
    seed filled in; the response's `params` is that normalized request (so the field order is the JSON's)."""

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

    @property
    def longest(self) -> int:
        """max_length of a normalized request (the engine fills it in before anything samples)."""
        if self.max_length is None:
            raise ValueError("the request is not normalized: max_length is unset")
        return self.max_length

    @property
    def steps(self) -> int:
        """A sampling round's steps: the characters left after the prefix, plus the end token."""
        return self.longest - len(self.prefix) + 1

    @property
    def sampling(self) -> tuple[float, int | None, float | None, str, int, int]:
        """What decides how a row is drawn from its uniforms: requests equal in this share one network pass."""
        return (self.temperature, self.top_k, self.top_p, self.prefix, self.min_length, self.longest)


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    """POST /score: one text."""

    text: str


@dataclass(frozen=True, slots=True)
class ScoreBatchRequest:
    """POST /score/batch: the texts, in order."""

    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NextRequest:
    """GET /next: the distribution after `prefix`, its `top` most likely characters (None: all)."""

    prefix: str = ""
    top: int | None = None
