"""The success bodies of /sample, /score, /score/batch and /next, for the OpenAPI schema: the JSON that the
engine's typed results (app.engine.results) encode to, field for field, in the same order
(tests/test_api_sample.py validates /sample bodies against SampleResponse)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


class ScoreBatchResponse(BaseModel):
    results: list[ScoreResponse] = Field(description="in request order, each exactly what /score gives")


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
