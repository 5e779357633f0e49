"""GET /sample: invented names, reproducible by seed."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from app.http import metrics
from app.http.dependencies import SampleModelDep, SampleQueryDep
from app.http.queries import query_parameters
from app.http.responses import SampleResponse
from app.http.schemas import BUSY, INVALID, UNKNOWN_MODEL, SampleQuery

router = APIRouter(tags=["generate"])


# The body is the engine's SampleResult encoded by orjson (its fields are in the JSON's order); SampleResponse
# documents it for the OpenAPI schema (tests/test_api_sample.py validates bodies against it).
@router.get(
    "/sample",
    response_model=SampleResponse,
    summary="Sample invented names",
    description="Draws `n` names from the model. Every response carries the seed, so it can be reproduced: the "
    "same model, seed and parameters give the same names, whatever other requests are served at the same time. "
    "suffix, contains, excludes and pattern are compiled, with prefix and the length bounds, into one automaton "
    "that guides every step, so every name meets them; a combination no name can meet is a 422 before any "
    "sampling. A request that finds too few names within the max_attempts setting (unique, novel_only, or "
    "max_length alone, which is met by redrawing) returns what was found with `complete: false` and a `message`.",
    responses={**INVALID, **UNKNOWN_MODEL, **BUSY},
    openapi_extra={"parameters": query_parameters(SampleQuery)},
)
async def sample(request: Request, engine: SampleModelDep, query: SampleQueryDep) -> Response:
    result = await engine.sample(query.to_request(), gone=request.is_disconnected)
    metrics.record_sample(engine.name, result.returned, *engine.unreported_network_work())
    return Response(orjson.dumps(result), media_type="application/json")
