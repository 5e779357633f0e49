"""POST /score and /score/batch: how name-like a text is, character by character."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.dependencies import EngineDep
from app.schemas import BUSY, INVALID, ScoreBatchRequest, ScoreBatchResponse, ScoreRequest, ScoreResponse

router = APIRouter(tags=["score"])


@router.post(
    "/score", response_model=ScoreResponse, summary="Per-character loss of one text", responses={**INVALID, **BUSY}
)
async def score(request: Request, body: ScoreRequest, engine: EngineDep) -> dict[str, Any]:
    return await engine.score(body.text, gone=request.is_disconnected)


@router.post(
    "/score/batch",
    response_model=ScoreBatchResponse,
    summary="Score many texts",
    description="Each result is exactly what /score gives for that text. If any text is invalid, nothing is "
    "scored: the 422 names every invalid text by its index, with the offending characters and positions.",
    responses={**INVALID, **BUSY},
)
async def score_batch(request: Request, body: ScoreBatchRequest, engine: EngineDep) -> dict[str, Any]:
    return {"results": await engine.score_batch(body.texts, gone=request.is_disconnected)}
