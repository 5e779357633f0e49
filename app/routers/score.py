"""POST /score and /score/batch: how name-like a text is, character by character."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from app.engine.textrules import InvalidInput
from app.schemas import ScoreBatchRequest, ScoreBatchResponse, ScoreRequest, ScoreResponse

router = APIRouter(tags=["score"])

INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "empty, too long, or characters outside the vocabulary (each named with its position)"}
}


@router.post("/score", response_model=ScoreResponse, summary="Per-character loss of one text", responses=INVALID)
def score(request: Request, body: ScoreRequest) -> dict[str, Any]:
    try:
        return request.app.state.engine.score(body.text)
    except InvalidInput as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.post(
    "/score/batch",
    response_model=ScoreBatchResponse,
    summary="Score many texts in one batched forward",
    description="Each result is exactly what /score gives for that text. If any text is invalid, nothing is "
    "scored: the 422 names every invalid text by its index, with the offending characters and positions.",
    responses=INVALID,
)
def score_batch(request: Request, body: ScoreBatchRequest) -> dict[str, Any]:
    try:
        return {"results": request.app.state.engine.score_batch(body.texts)}
    except InvalidInput as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
