"""GET /next: the model's distribution over the character after a prefix."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from app.http.dependencies import NextModelDep, NextQueryDep
from app.http.queries import query_parameters
from app.http.responses import NextResponse
from app.http.schemas import BUSY, INVALID, UNKNOWN_MODEL, NextQuery

router = APIRouter(tags=["score"])


@router.get(
    "/next",
    response_model=NextResponse,
    summary="What the model expects after a prefix",
    description="Every character of the vocabulary with its probability and loss after `prefix`, most likely "
    "first, the end-of-name token '.' included; the probabilities sum to 1. `prefix` is normalized as /score "
    "normalizes text, and each loss is what /score gives that character at that position.",
    responses={**INVALID, **UNKNOWN_MODEL, **BUSY},
    openapi_extra={"parameters": query_parameters(NextQuery)},
)
async def next_chars(request: Request, engine: NextModelDep, query: NextQueryDep) -> Response:
    result = await engine.next_chars(query.to_request(), gone=request.is_disconnected)
    return Response(orjson.dumps(result), media_type="application/json")
