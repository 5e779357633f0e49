"""Build the FastAPI app: load the artifact once at startup, mount the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch
from fastapi import FastAPI

from app.engine.artifact import load_artifact
from app.engine.engine import Engine
from app.routers import health, model_info, page, sample, score
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(settings.torch_threads)
        # ArtifactError propagates: uvicorn exits non-zero before serving anything.
        artifact = load_artifact(settings.model_path)
        engine = Engine(artifact, settings)
        engine.warm_up()
        app.state.artifact = artifact
        app.state.engine = engine
        app.state.ready = True
        yield
        app.state.ready = False

    app = FastAPI(
        title="namegen",
        version="0.1.0",
        description="Invented, name-like names from a character-level MLP language model, and a score of how "
        "name-like any string is.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ready = False
    for router in (health.router, model_info.router, sample.router, score.router, page.router):
        app.include_router(router)
    return app


app = create_app()
