"""Request and response models of /sample, /score and /score/batch (also used by the CLI to validate)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.engine.jobs import MAX_POOL, MAX_SEED, MIN_POOL, POOL_PER_NAME, SampleSpec
from app.engine.patterns import MAX_PATTERN_LENGTH


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

    def to_spec(self) -> SampleSpec:
        return SampleSpec(**self.model_dump(exclude={"model"}))


MODEL_FIELD_DESCRIPTION = "the model that answered (its file stem)"


class Sample(BaseModel):
    name: str
    log_prob: float = Field(
        description="ln p(name, end token included) under the model at temperature 1 "
        "without truncation: equals -total_loss from /score"
    )
    constrained_log_prob: float = Field(
        description="ln of the probability that the sampler, as asked, draws this name after the prefix: "
        "temperature, top_k and top_p, and with suffix, contains, excludes, pattern or exact each step drawn only "
        "among the characters from which every constraint can still be met, each weighted by an estimate of how "
        "likely they then are met (guided masking), renormalized; log_prob minus the prefix's for a plain "
        "temperature-1 request"
    )
    novel: bool = Field(description="true when the name is not in the training data")
    distance: int | None = Field(description="Damerau-Levenshtein distance to similar_to; null without it")


class SampleResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "names-mlp",
                    "names": ["kaylen", "kasia"],
                    "seed": 42,
                    "samples": [
                        {
                            "name": "kaylen",
                            "log_prob": -9.71,
                            "constrained_log_prob": -5.02,
                            "novel": True,
                            "distance": None,
                        },
                        {
                            "name": "kasia",
                            "log_prob": -8.02,
                            "constrained_log_prob": -3.33,
                            "novel": False,
                            "distance": None,
                        },
                    ],
                    "requested": 2,
                    "returned": 2,
                    "complete": True,
                    "message": None,
                    "attempts": 1,
                    "drawn": 2,
                    "effective_sample_size": None,
                    "params": {
                        "n": 2,
                        "temperature": 1.0,
                        "seed": 42,
                        "top_k": None,
                        "top_p": None,
                        "prefix": "ka",
                        "min_length": 1,
                        "max_length": 32,
                        "novel_only": False,
                        "unique": False,
                        "suffix": "",
                        "contains": "",
                        "excludes": "",
                        "pattern": None,
                        "similar_to": None,
                        "exact": False,
                    },
                    "notes": [],
                }
            ]
        }
    )

    model: str = Field(description=MODEL_FIELD_DESCRIPTION)
    names: list[str] = Field(description="the names, without the boundary token")
    seed: int = Field(description="the seed used (the request's, or the one the server picked)")
    samples: list[Sample]
    requested: int = Field(description="n as asked")
    returned: int = Field(description="how many names came back; fewer than requested when constraints are too hard")
    complete: bool = Field(description="returned == requested")
    message: str | None = Field(description="why fewer names came back; null when complete")
    attempts: int = Field(description="sampling rounds used (at most the max_attempts setting)")
    drawn: int = Field(description="names drawn in all rounds (with similar_to or exact: the candidates)")
    effective_sample_size: float | None = Field(
        description="exact: (Σw)² / Σw² of the candidates' importance weights, how many of the drawn the "
        "resampling really uses (the closer to drawn, the closer guided sampling was already); null without exact"
    )
    params: dict[str, Any] = Field(
        description="the parameters actually used (normalized prefix, picked seed, effective max_length)"
    )
    notes: list[str] = Field(description="anything the server changed in the request, e.g. a normalized prefix")


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


class CharScore(BaseModel):
    char: str = Field(description="the predicted character; '.' is the end-of-name token")
    loss: float = Field(description="-ln p (nats)")
    prob: float


class ScoreResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "names-mlp",
                    "text": "emma",
                    "input": "Emma",
                    "normalized": True,
                    "notes": ["text: folded into the model's vocabulary: 'E' -> 'e'"],
                    "chars": [
                        {"char": "e", "loss": 2.1, "prob": 0.122},
                        {"char": "m", "loss": 2.3, "prob": 0.1},
                        {"char": "m", "loss": 1.6, "prob": 0.2},
                        {"char": "a", "loss": 0.9, "prob": 0.4},
                        {"char": ".", "loss": 0.6, "prob": 0.55},
                    ],
                    "total_loss": 7.5,
                    "mean_loss": 1.5,
                    "perplexity": 4.48,
                }
            ]
        }
    )

    model: str = Field(description=MODEL_FIELD_DESCRIPTION)
    text: str = Field(description="the normalized text that was scored")
    input: str = Field(description="the text as sent")
    normalized: bool = Field(description="true when text differs from input; notes say how")
    notes: list[str] = Field(description="each change made to the input: whitespace, Unicode form, folds")
    chars: list[CharScore] = Field(description="one per predicted position, the end token included")
    total_loss: float = Field(description="sum of the losses (nats) = -ln p(text)")
    mean_loss: float
    perplexity: float = Field(description="e ** mean_loss")
    percentile: float | None = Field(
        None,
        ge=0,
        le=100,
        description="how name-like next to real names: the share (%) of the reference dev names whose mean loss "
        "is higher than this text's, interpolated in the artifact's mean_loss_quantiles; null when the "
        "artifact has none",
        examples=[80.5],
    )


class ScoreBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": ["emma", "olivia", "xqzt"]}]})

    model: ModelName = None
    texts: list[str] = Field(
        description="1 … max_batch (setting, default 1000) texts; if any is invalid the "
        "whole request is a 422 naming each invalid text by index"
    )


class ScoreBatchResponse(BaseModel):
    results: list[ScoreResponse] = Field(description="in request order, each exactly what /score gives")


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


class ModelQuery(BaseModel):
    """Query parameters of GET /model."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = None


class NextChar(BaseModel):
    char: str = Field(description="a character of the vocabulary; '.' is the end-of-name token")
    prob: float = Field(description="p(char | prefix)")
    loss: float = Field(description="-ln p (nats): what /score gives this character after this prefix")


class NextResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "names-mlp",
                    "prefix": "em",
                    "input": "Em",
                    "normalized": True,
                    "notes": ["prefix: folded into the model's vocabulary: 'E' -> 'e'"],
                    "prefix_log_prob": -4.62,
                    "next": [
                        {"char": "m", "prob": 0.31, "loss": 1.17},
                        {"char": "i", "prob": 0.18, "loss": 1.71},
                        {"char": ".", "prob": 0.01, "loss": 4.6},
                    ],
                }
            ]
        }
    )

    model: str = Field(description=MODEL_FIELD_DESCRIPTION)
    prefix: str = Field(description="the normalized prefix the distribution is conditioned on")
    input: str = Field(description="the prefix as sent")
    normalized: bool = Field(description="true when prefix differs from input; notes say how")
    notes: list[str]
    prefix_log_prob: float = Field(
        description="ln p(a name starts with prefix): the sum of the prefix characters' -loss in /score "
        "(0 for the empty prefix)"
    )
    next: list[NextChar] = Field(
        description="most likely first (ties in vocabulary order), the end token included; every character of "
        "the vocabulary unless top limits the list"
    )
