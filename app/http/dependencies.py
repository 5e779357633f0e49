"""What routes get by dependency injection: the model store that startup built; and a model from it.

Async, though it awaits nothing: FastAPI runs a plain function dependency in its thread pool, a thread hop
for every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.engine.engine import Engine
from app.engine.store import ModelStore


async def model_store(request: Request) -> ModelStore:
    store: ModelStore | None = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "the models are not loaded yet", headers={"Retry-After": "1"})
    return store


StoreDep = Annotated[ModelStore, Depends(model_store)]


def served_model(request: Request, store: ModelStore, name: str | None) -> Engine:
    """The named model, or the default one for None (UnknownModel, a 404 listing the served names, if no
    model has that name); the request's metrics carry its name."""
    engine = store.engine(name)
    request.state.model = engine.name
    return engine
