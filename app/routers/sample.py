"""GET /sample: invented names, reproducible by seed."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app import metrics
from app.dependencies import EngineDep
from app.schemas import BUSY, INVALID, SampleQuery, SampleResponse

router = APIRouter(tags=["generate"])


def query_parameters() -> list[dict[str, Any]]:
    """SampleQuery's fields as OpenAPI query parameters (the route validates the query itself; see below)."""
    schema = SampleQuery.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "schema": field,
            "description": field.get("description", ""),
        }
        for name, field in schema["properties"].items()
    ]


def parse_query(request: Request) -> SampleQuery:
    """The query string through SampleQuery in one pydantic call (FastAPI's own query-model path walks the
    fields in Python first, a cost every request pays)."""
    params = request.query_params
    if len(params) != len(params.multi_items()):  # the same name twice: which one was meant is not ours to guess
        repeated = sorted({k for k in params if len(params.getlist(k)) > 1})
        raise RequestValidationError(
            [
                {"loc": ("query", k), "msg": f"{k} is given more than once; give it once", "type": "repeated"}
                for k in repeated
            ]
        )
    try:
        return SampleQuery.model_validate(dict(params))
    except ValidationError as exc:  # the same 422 as FastAPI's own validation: loc starts with "query"
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None


# The body is encoded with orjson straight from the engine's dict, which is built to match SampleResponse
# (declared for the OpenAPI schema; tests/test_api_sample.py validates bodies against it).
@router.get(
    "/sample",
    response_model=SampleResponse,
    summary="Sample invented names",
    description="Draws `n` names from the model. Every response carries the seed, so it can be reproduced: the "
    "same seed and parameters give the same names, whatever other requests are served at the same time. "
    "Constraints that cannot be met within the max_attempts setting return what was found with "
    "`complete: false` and a `message`.",
    responses={**INVALID, **BUSY},
    openapi_extra={"parameters": query_parameters()},
)
async def sample(request: Request, engine: EngineDep) -> Response:
    result = await engine.sample(parse_query(request).to_spec(), gone=request.is_disconnected)
    metrics.record_names(result["returned"])
    metrics.record_network(engine.sampler.stats)
    return Response(orjson.dumps(result), media_type="application/json")
