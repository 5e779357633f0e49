"""GET /sample: invented names, reproducible by seed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from app import metrics
from app.engine.textrules import InvalidInput
from app.schemas import SampleQuery, SampleResponse

router = APIRouter(tags=["generate"])


# A sync endpoint: FastAPI runs it in its threadpool, so sampling never blocks the event loop, and torch
# releases the GIL inside its kernels. Each request samples with its own generator (see app/engine/sampler.py).
@router.get(
    "/sample",
    response_model=SampleResponse,
    summary="Sample invented names",
    description="Draws `n` names from the model. Every response carries the seed, so it can be reproduced: the "
    "same seed and parameters give the same names. Constraints that cannot be met within the max_attempts "
    "setting return what was found with `complete: false` and a `message`.",
    responses={422: {"description": "an invalid parameter; the message says which and why"}},
)
def sample(request: Request, query: Annotated[SampleQuery, Query()]) -> dict[str, Any]:
    try:
        result = request.app.state.engine.sample(query.to_spec())
    except InvalidInput as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    metrics.record_names(result["returned"])
    return result
