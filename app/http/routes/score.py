"""POST /score and /score/batch: how name-like a text is, character by character."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from app.http.dependencies import ScoreBatchBodyDep, ScoreBatchModelDep, ScoreBodyDep, ScoreModelDep
from app.http.responses import ScoreBatchResponse, ScoreResponse
from app.http.schemas import BUSY, INVALID, UNKNOWN_MODEL

router = APIRouter(tags=["score"])

# The bodies are the engine's ScoredText and ScoredBatch encoded by orjson (their fields are in the JSON's
# order); ScoreResponse and ScoreBatchResponse document them for the OpenAPI schema.


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Per-character loss of one text",
    responses={**INVALID, **UNKNOWN_MODEL, **BUSY},
)
async def score(request: Request, engine: ScoreModelDep, body: ScoreBodyDep) -> Response:
    result = await engine.score(body.to_request(), gone=request.is_disconnected)
    return Response(orjson.dumps(result), media_type="application/json")


@router.post(
    "/score/batch",
    response_model=ScoreBatchResponse,
    summary="Score many texts",
    description="Each result is exactly what /score gives for that text. If any text is invalid, nothing is "
    "scored: the 422 names every invalid text by its index, with the offending characters and positions.",
    responses={**INVALID, **UNKNOWN_MODEL, **BUSY},
)
async def score_batch(request: Request, engine: ScoreBatchModelDep, body: ScoreBatchBodyDep) -> Response:
    result = await engine.score_batch(body.to_request(), gone=request.is_disconnected)
    return Response(orjson.dumps(result), media_type="application/json")
