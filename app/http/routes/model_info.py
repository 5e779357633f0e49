"""The served models: GET /models lists them, GET /model gives one artifact's metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from app.http.dependencies import StoreDep, served_model
from app.http.queries import parse_query, query_parameters
from app.http.schemas import INVALID, UNKNOWN_MODEL, ModelQuery

router = APIRouter(tags=["model"])


class ModelInfo(BaseModel):
    """meta.json from the artifact (less its training history), plus facts about the file."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="the model's name in requests (its file stem)")
    default: bool = Field(description="true for the model a request that names none gets")
    format: str
    format_version: int
    vocab: list[str]
    block_size: int
    hyperparameters: dict[str, Any]
    train_loss: float
    dev_loss: float
    test_loss: float
    dataset: dict[str, Any]
    file: str = Field(description="artifact file name (no directory)")
    sha256: str = Field(description="sha256 of the artifact file")
    training_words: int = Field(description="distinct words in the training data, all splits")


class ModelSummary(BaseModel):
    name: str = Field(description="what `model` takes in requests (the file stem)")
    default: bool = Field(description="true for the model a request that names none gets")
    file: str
    vocab: list[str] = Field(description="the characters it knows; '.' (id 0) is the boundary token")
    block_size: int = Field(description="context: how many previous characters it sees")
    parameters: int | None
    dev_loss: float = Field(description="mean loss on its dev split, nats per character, end token included")
    test_loss: float
    recipe: str | None
    dataset: dict[str, Any] = Field(description="the training data: file name, sha256, words")


class ModelList(BaseModel):
    default: str = Field(description="the model a request that names none gets")
    models: list[ModelSummary] = Field(description="in alphabetical order of name")


class NotReady(BaseModel):
    detail: str


NOT_READY: dict[int | str, dict[str, Any]] = {503: {"model": NotReady, "description": "the models are not loaded yet"}}


class NoQuery(BaseModel):
    """GET /models takes no parameters: any is a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@router.get("/models", summary="The served models", response_model=ModelList, responses={**INVALID, **NOT_READY})
async def list_models(request: Request, store: StoreDep) -> dict[str, Any]:
    parse_query(request, NoQuery)
    models = []
    for engine in store:
        meta = engine.artifact.meta
        dataset = meta.dataset
        models.append(
            {
                "name": engine.name,
                "default": engine.name == store.default,
                "file": engine.artifact.path.name,
                "vocab": list(engine.artifact.vocab),
                "block_size": engine.artifact.block_size,
                "parameters": meta.parameters,
                "dev_loss": meta.dev_loss,
                "test_loss": meta.test_loss,
                "recipe": meta.recipe,
                "dataset": {k: dataset[k] for k in ("name", "sha256", "words", "source") if k in dataset},
            }
        )
    return {"default": store.default, "models": models}


@router.get(
    "/model",
    summary="Metadata of one served model (from its artifact's meta.json)",
    response_model=ModelInfo,
    responses={**INVALID, **UNKNOWN_MODEL, **NOT_READY},
    openapi_extra={"parameters": query_parameters(ModelQuery)},
)
async def model_info(request: Request, store: StoreDep) -> dict[str, Any]:
    engine = served_model(request, store, parse_query(request, ModelQuery).model)
    artifact = engine.artifact
    meta = {k: v for k, v in artifact.meta.to_json().items() if k not in ("history", "path", "file")}
    return {
        **meta,
        "name": engine.name,
        "default": engine.name == store.default,
        "file": artifact.path.name,
        "sha256": engine.sha256,
        "training_words": len(artifact.words),
    }
