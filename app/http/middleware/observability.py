"""Per-request observability: request id, JSON access log, Prometheus metrics, the last-resort 500, and the
503 of a request the server cut off as it shut down.

A pure ASGI middleware (no BaseHTTPMiddleware) so streamed bodies and responses pass through untouched.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.engine.scheduler import RETRY_AFTER_SECONDS
from app.http import metrics
from app.http.logs import REQUEST_ID, get_logger

REQUEST_ID_HEADER = b"x-request-id"
# A client's id is echoed in headers and logs, so only short, inert ids are accepted; anything else is replaced.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

access_log = get_logger("access")
error_log = get_logger("error")


def accepted_request_id(scope: Scope) -> str:
    """The client's X-Request-ID if it is safe to echo, else a fresh one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if VALID_REQUEST_ID.fullmatch(text):
                return text
            break
    return f"{random.getrandbits(128):032x}"  # not uuid4: its os.urandom call gives the GIL away (see jobs.py)


def route_template(scope: Scope) -> str:
    """The matched route's path template (/score/batch, not the raw path), so label sets stay bounded."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    # Routes FastAPI adds itself (/openapi.json, /docs) do not set scope["route"]; match those exactly.
    app = scope.get("app")
    if any(getattr(route, "path", None) == scope["path"] for route in getattr(app, "routes", ())):
        return str(scope["path"])
    return metrics.UNMATCHED_ROUTE


def internal_error_body(request_id: str) -> bytes:
    return orjson.dumps({"detail": "internal server error", "request_id": request_id})


SHUTDOWN_DETAIL = "the server shut down before this request was done; retry (another instance may answer)"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        async def answer(status_code: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
            await send_with_id({"type": "http.response.start", "status": status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # uvicorn cancels the requests still running when its graceful shutdown timeout ends. The task ends
            # here with the API's answer, not with uvicorn's text/plain 500: a cancelled request task has
            # nothing left to clean up, so swallowing its cancellation is safe.
            if response_started:
                raise
            retry_after = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())
            await answer(503, orjson.dumps({"detail": SHUTDOWN_DETAIL}), retry_after, (b"connection", b"close"))
        except Exception:
            # Should never happen (the API fuzz run checks); log it in full, tell the client nothing internal.
            error_log.exception("unhandled error", extra={"fields": self._request_fields(scope)})
            if response_started:
                raise
            await answer(500, internal_error_body(request_id))
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            model = str(scope.get("state", {}).get("model", ""))  # set by app.http.dependencies.served_model
            metrics.record_request(scope["method"], route, status, seconds, model)
            fields = {
                **self._request_fields(scope),
                "route": route,
                "model": model or None,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            }
            access_log.info("request", extra={"fields": fields})
            REQUEST_ID.reset(token)

    @staticmethod
    def _request_fields(scope: Scope) -> dict[str, Any]:
        client = scope.get("client")
        return {"method": scope["method"], "path": scope["path"], "client": client[0] if client else None}
