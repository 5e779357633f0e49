"""The request models of /sample, /score, /score/batch, /next and /model (the CLI validates with them too), and
the shapes of the error responses.

Each request model checks its fields on its own and builds the engine's request (app.engine.requests). The
success bodies are documented in app.http.responses.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.engine import requests
from app.engine.jobs import MAX_POOL, MIN_POOL, POOL_PER_NAME
from app.engine.patterns import MAX_PATTERN_LENGTH
from app.engine.requests import MAX_SEED


# One problem with a request, in FastAPI's 422 shape (the engine's counterpart: app.engine.problems.FieldProblem).
class Problem(BaseModel):
    loc: list[str | int] = Field(description='where: "query" or "body", the parameter, then an index or position')
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """Every 422: each problem with the request, at once."""

    detail: list[Problem]


class Refusal(BaseModel):
    """Every other error: one line saying what happened and what to do."""

    detail: str


# The `model` field of every request that can name one.
ModelName = Annotated[
    str | None,
    Field(min_length=1, max_length=128, description="which served model (GET /models lists them); omitted: default"),
]

INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": InvalidRequest, "description": "invalid parameters: each one named, with what is wrong"}
}


class UnknownModelRefusal(BaseModel):
    detail: str = Field(description="the name asked for and the names served")
    models: list[str] = Field(description="the served models' names")


UNKNOWN_MODEL: dict[int | str, dict[str, Any]] = {
    404: {"model": UnknownModelRefusal, "description": "no served model has that name; the answer lists them"}
}
BUSY: dict[int | str, dict[str, Any]] = {
    503: {"model": Refusal, "description": "the server's work queue is full; retry after Retry-After seconds"}
}


class SampleQuery(BaseModel):
    """Query parameters of GET /sample, each checked on its own. The checks that depend on the settings
    (n <= max_n, max_length <= max_name_length), on the vocabulary (prefix) or on another field
    (min_length <= max_length) are the engine's, made once for HTTP and CLI alike."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = None
    n: int = Field(10, ge=1, description="how many names (at most the max_n setting, default 1000)", examples=[10])
    temperature: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="finite, > 0; below 1 sharper, above 1 flatter", examples=[0.8]
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="0 … 2**64-1; omitted: the server picks one (< 2**53) and returns it. Same seed and "
        "parameters → same names, across requests, restarts and processes.",
        examples=[42],
    )
    top_k: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="sample only among the k most likely characters; 1 = greedy; k >= the vocabulary size keeps all",
    )
    top_p: float | None = Field(
        None,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="nucleus sampling: the smallest set of characters whose probability (after temperature) reaches p",
    )
    prefix: str = Field(
        "",
        description="every name starts with these characters, normalized like /score text; as sent, at most "
        "128 characters and 256 UTF-8 bytes (4 and 8 × max_name_length)",
        examples=["ka"],
    )
    min_length: int = Field(
        1, ge=1, description="shortest name, prefix included (the end token is withheld until then)"
    )
    max_length: int | None = Field(
        None,
        ge=1,
        description="longest name, prefix included (default and upper limit: the max_name_length "
        "setting, 32); longer draws are discarded and redrawn",
    )
    novel_only: bool = Field(False, description="only names that are not in the model's training data")
    unique: bool = Field(False, description="no name twice in one response")
    suffix: str = Field("", description="every name ends with these characters; read like prefix", examples=["son"])
    contains: str = Field("", description="every name contains these characters; read like prefix", examples=["ell"])
    excludes: str = Field(
        "",
        description="letters that never appear in a name, e.g. 'qxz'; read like prefix, at most 4 × the alphabet's "
        "size as sent",
        examples=["qxz"],
    )
    pattern: str | None = Field(
        None,
        description=f"a regular expression (Python syntax, at most {MAX_PATTERN_LENGTH} characters) the whole name "
        "must match, over the model's characters, used as sent (no case folding: `(?i)` ignores case); not "
        "supported: backreferences, lookaround, anchors other than a leading ^ and a trailing $ (implicit anyway), "
        "atomic groups, possessive quantifiers, conditionals",
        examples=["[aeiou][a-z]*[aeiou]"],
    )
    similar_to: str | None = Field(
        None,
        description=f"a word: {POOL_PER_NAME} × n candidates are drawn (at least {MIN_POOL}, at most {MAX_POOL} or "
        "n) and the n closest to it by Damerau-Levenshtein distance returned, closest first (ties in the order "
        "drawn); read like prefix",
        examples=["maria"],
    )
    exact: bool = Field(
        False,
        description="sample the model's distribution conditioned on the constraints rather than the guided one: "
        "as many guided draws as similar_to draws, resampled in proportion to p/q (importance resampling); not with "
        "top_k or top_p",
    )

    def to_request(self) -> requests.SampleRequest:
        return requests.SampleRequest(
            n=self.n,
            temperature=self.temperature,
            seed=self.seed,
            top_k=self.top_k,
            top_p=self.top_p,
            prefix=self.prefix,
            min_length=self.min_length,
            max_length=self.max_length,
            novel_only=self.novel_only,
            unique=self.unique,
            suffix=self.suffix,
            contains=self.contains,
            excludes=self.excludes,
            pattern=self.pattern,
            similar_to=self.similar_to,
            exact=self.exact,
        )


class ScoreRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "emma"}, {"text": "smith", "model": "us-surnames"}]}
    )

    model: ModelName = None
    text: str = Field(
        description="stripped, Unicode-NFC, and each character outside the vocabulary folded in where a simple "
        "fold (case, accents) maps it; what no fold maps is a 422. As sent, at most 256 characters and 512 "
        "UTF-8 bytes (4 and 8 × max_text_length): longer is a 422, unread"
    )

    def to_request(self) -> requests.ScoreRequest:
        return requests.ScoreRequest(self.text)


class ScoreBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": ["emma", "olivia", "xqzt"]}]})

    model: ModelName = None
    texts: list[str] = Field(
        description="1 … max_batch (setting, default 1000) texts; if any is invalid the "
        "whole request is a 422 naming each invalid text by index"
    )

    def to_request(self) -> requests.ScoreBatchRequest:
        return requests.ScoreBatchRequest(tuple(self.texts))


class NextQuery(BaseModel):
    """Query parameters of GET /next."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = None
    prefix: str = Field(
        "",
        description="the beginning of a name, normalized and capped like /score text; empty: the first character",
        examples=["em"],
    )
    top: int | None = Field(None, ge=1, le=1000, description="at most this many characters; omitted: all")

    def to_request(self) -> requests.NextRequest:
        return requests.NextRequest(self.prefix, self.top)


class ModelQuery(BaseModel):
    """Query parameters of GET /model."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = None
