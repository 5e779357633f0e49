"""Build the FastAPI app. Importing this module builds the app but loads nothing: the lifespan loads the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app.http.errors import install_error_handlers
from app.http.lifecycle import StartupFailureMiddleware, start_service, stop_service
from app.http.logs import configure_app_logging
from app.http.middleware.head import HeadAsGetMiddleware
from app.http.middleware.limits import BodySizeLimitMiddleware, FullQueueMiddleware
from app.http.middleware.observability import ObservabilityMiddleware
from app.http.middleware.security import SecurityHeadersMiddleware
from app.http.routes import docs, health, metrics, model_info, next_chars, page, sample, score
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_app_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_service(app, settings)  # raises (one-line ArtifactError) when an artifact is unusable
        yield
        stop_service(app)

    # FastAPIOffline serves the scripts of /docs and /redoc, bundled, not from a CDN: works offline. The pages
    # themselves come from app.http.routes.docs, with a Content-Security-Policy.
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        title="namegen",
        version="0.1.0",
        description="Invented, name-like names from a character-level MLP language model, and a score of how "
        "name-like any string is.",
        lifespan=lifespan,
        # No redirects at all: Starlette builds a trailing-slash redirect's Location from the client's Host.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.ready = False
    app.state.draining = False
    install_error_handlers(app)
    routers = (health, model_info, metrics, sample, score, next_chars, page, docs)
    for module in routers:
        app.include_router(module.router)
    # Added innermost first: a request meets the security headers, CORS, then observability (id, log, metrics),
    # the body caps, the early refusal of large bodies while the work queue is full, and HEAD served as GET.
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(FullQueueMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_bodies_in_flight=settings.max_bodies_in_flight,
    )
    app.add_middleware(ObservabilityMiddleware)
    app.add_middleware(StartupFailureMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=["Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    return app


app = create_app()
