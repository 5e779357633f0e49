"""POST /score and /score/batch: how name-like a text is, character by character."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.http.dependencies import StoreDep, served_model
from app.http.schemas import (
    BUSY,
    INVALID,
    UNKNOWN_MODEL,
    ScoreBatchRequest,
    ScoreBatchResponse,
    ScoreRequest,
    ScoreResponse,
)

router = APIRouter(tags=["score"])

# The engine encodes each text's result to JSON as soon as it is scored (see Engine.score_encoded); the routes
# join those pieces. ScoreResponse and ScoreBatchResponse document them (the API tests validate bodies
# against them).


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Per-character loss of one text",
    responses={**INVALID, **UNKNOWN_MODEL, **BUSY},
)
async def score(request: Request, body: ScoreRequest, store: StoreDep) -> Response:
    engine = served_model(request, store, body.model)
    (result,) = await engine.score_encoded([body.text], ("text",), gone=request.is_disconnected)
    return Response(result, media_type="application/json")


@router.post(
    "/score/batch",
    response_model=ScoreBatchResponse,
    summary="Score many texts",
    description="Each result is exactly what /score gives for that text. If any text is invalid, nothing is "
    "scored: the 422 names every invalid text by its index, with the offending characters and positions.",
    responses={**INVALID, **UNKNOWN_MODEL, **BUSY},
)
async def score_batch(request: Request, body: ScoreBatchRequest, store: StoreDep) -> Response:
    engine = served_model(request, store, body.model)
    results = await engine.score_encoded(body.texts, ("texts",), gone=request.is_disconnected)
    return Response(b'{"results":[' + b",".join(results) + b"]}", media_type="application/json")
