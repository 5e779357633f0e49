"""What routes get by dependency injection: the engine that startup built.

Async, though it awaits nothing: FastAPI runs a plain function dependency in its thread pool, a thread hop
for every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.engine.engine import Engine


async def running_engine(request: Request) -> Engine:
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise HTTPException(503, "the model is not loaded yet", headers={"Retry-After": "1"})
    return engine


EngineDep = Annotated[Engine, Depends(running_engine)]
