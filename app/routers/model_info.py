"""The served artifact's metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

router = APIRouter(tags=["model"])


class ModelInfo(BaseModel):
    """meta.json from the artifact (less its training history), plus facts about the file."""

    model_config = ConfigDict(extra="allow")

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


class NotReady(BaseModel):
    detail: str


@router.get(
    "/model",
    summary="Metadata of the served model (from the artifact's meta.json)",
    response_model=ModelInfo,
    responses={503: {"model": NotReady, "description": "the model is not loaded yet"}},
)
def model_info(request: Request) -> dict[str, Any]:
    artifact = getattr(request.app.state, "artifact", None)
    if artifact is None:
        raise HTTPException(503, "the model is not loaded yet")
    meta = {k: v for k, v in artifact.meta.items() if k not in ("history", "path", "file")}
    return {
        **meta,
        "file": artifact.path.name,
        "sha256": request.app.state.artifact_sha256,
        "training_words": len(artifact.words),
    }
