"""Startup (load, warm up, then ready), clean startup failure, and drain on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from types import FrameType
from typing import Any

import torch
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.engine.artifact import ArtifactError
from app.engine.store import ModelStore
from app.http import metrics
from app.http.logs import get_logger
from app.settings import Settings

log = get_logger("lifecycle")


async def start_service(app: FastAPI, settings: Settings) -> ModelStore:
    """Load the configured models, warm each up, and only then report ready."""
    app.state.ready = False
    app.state.draining = False
    torch.set_num_threads(settings.torch_threads)
    # ArtifactError naming the first broken file
    store = ModelStore.load(settings.model_path, settings.default_model, settings.engine_limits())
    await store.warm_up()
    app.state.store = store
    metrics.set_model_info([(e.name, e.sha256, e.artifact.meta.recipe or "", e.artifact.meta.dev_loss) for e in store])
    drain_on_signals(app, settings.drain_seconds)
    # What startup made lives as long as the process (torch's modules, the training word list, the app and its
    # schemas: hundreds of thousands of objects), and every full garbage collection would walk them all, a
    # pause that every request then waits behind. Collected once and frozen, the collector no longer looks.
    gc.collect()
    gc.freeze()
    app.state.ready = True
    models = {e.name: e.sha256 for e in store}
    log.info("ready", extra={"fields": {"models": models, "default": store.default}})
    return store


def stop_service(app: FastAPI) -> None:
    app.state.ready = False
    store: ModelStore | None = getattr(app.state, "store", None)
    if store is not None:
        store.close()


def startup_failure_line(exc: BaseException) -> str:
    """What a failed startup prints: the artifact's own one-line message, or the error's type and text."""
    if isinstance(exc, ArtifactError):
        return f"namegen: cannot start: {exc}"
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"namegen: cannot start: {type(exc).__name__}: {first_line}"


class StartupFailureMiddleware:
    """Replace the traceback Starlette sends with lifespan.startup.failed by one line.

    uvicorn logs that message and exits non-zero (its code 3) without printing the traceback; the exception
    is re-raised so in-process runners (TestClient) still see it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
                return
            await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except BaseException as exc:
            if held and not isinstance(exc, ArtifactError):
                log.error("startup failed", exc_info=exc)  # a bug, not a bad file: keep its traceback (one JSON line)
            if held:
                await send({"type": "lifespan.startup.failed", "message": startup_failure_line(exc)})
            raise


def drain_on_signals(app: FastAPI, drain_seconds: float) -> None:
    """Chain a handler in front of the server's SIGTERM/SIGINT handler: mark the app draining (/readyz false),
    keep serving for drain_seconds so load balancers notice, then let the server stop accepting and finish
    in-flight requests (uvicorn's graceful shutdown).

    Only in the main thread of a real server; in-process test clients run the app elsewhere and keep theirs.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        server_handler = signal.getsignal(signum)
        if not callable(server_handler):
            continue

        def on_signal(sig: int, frame: FrameType | None, forward: Any = server_handler) -> None:
            if not app.state.draining:
                app.state.draining = True
                log.info(
                    "draining", extra={"fields": {"signal": signal.Signals(sig).name, "drain_seconds": drain_seconds}}
                )
                if drain_seconds > 0:
                    loop.call_soon_threadsafe(loop.call_later, drain_seconds, forward, sig, frame)
                    return
            forward(sig, frame)

        signal.signal(signum, on_signal)
