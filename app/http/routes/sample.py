"""GET /sample: invented names, reproducible by seed."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from app.http import metrics
from app.http.dependencies import StoreDep, served_model
from app.http.queries import parse_query, query_parameters
from app.http.schemas import BUSY, INVALID, UNKNOWN_MODEL, SampleQuery, SampleResponse

router = APIRouter(tags=["generate"])


# The body is encoded with orjson straight from the engine's dict, which is built to match SampleResponse
# (declared for the OpenAPI schema; tests/test_api_sample.py validates bodies against it).
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
async def sample(request: Request, store: StoreDep) -> Response:
    query = parse_query(request, SampleQuery)
    engine = served_model(request, store, query.model)
    result = await engine.sample(query.to_spec(), gone=request.is_disconnected)
    metrics.record_names(engine.name, result["returned"])
    metrics.record_network(engine.name, engine.sampler.stats)
    return Response(orjson.dumps(result), media_type="application/json")
