"""POST /score and /score/batch: how name-like a text is, character by character."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request

from app.engine.engine import Engine
from app.engine.textrules import InvalidInput
from app.schemas import ScoreBatchRequest, ScoreBatchResponse, ScoreRequest, ScoreResponse

router = APIRouter(tags=["score"])

INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "empty, too long, or characters outside the vocabulary (each named with its position)"}
}
# Scoring runs in its own small pool rather than Starlette's 40-thread pool for sync routes: at most this many
# forwards at once, so concurrent /score calls neither oversubscribe the cores nor grow memory thread by thread.
SCORING_THREADS = 2


def scoring_executor(app: FastAPI) -> ThreadPoolExecutor:
    executor: ThreadPoolExecutor | None = getattr(app.state, "scoring_executor", None)
    if executor is None:
        executor = app.state.scoring_executor = ThreadPoolExecutor(SCORING_THREADS, thread_name_prefix="namegen-score")
    return executor


async def scored(request: Request, work: Callable[[Engine], Any]) -> Any:
    """Run `work(engine)` in the scoring pool; invalid text is a 422 that says what is wrong."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(scoring_executor(request.app), work, request.app.state.engine)
    except InvalidInput as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.post("/score", response_model=ScoreResponse, summary="Per-character loss of one text", responses=INVALID)
async def score(request: Request, body: ScoreRequest) -> dict[str, Any]:
    result: dict[str, Any] = await scored(request, lambda engine: engine.score(body.text))
    return result


@router.post(
    "/score/batch",
    response_model=ScoreBatchResponse,
    summary="Score many texts in one batched forward",
    description="Each result is exactly what /score gives for that text. If any text is invalid, nothing is "
    "scored: the 422 names every invalid text by its index, with the offending characters and positions.",
    responses=INVALID,
)
async def score_batch(request: Request, body: ScoreBatchRequest) -> dict[str, Any]:
    results = await scored(request, lambda engine: engine.score_batch(body.texts))
    return {"results": results}
