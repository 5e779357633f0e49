"""Request body size cap: a larger body gets 413 before it is read whole.

A declared Content-Length over the cap is refused before any byte of the body is read; a chunked (or
understated) body is counted as it streams in and refused the moment it passes the cap.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.engine.scheduler import RETRY_AFTER_SECONDS
from app.http import metrics


class BodyTooLarge(HTTPException):
    """Raised from receive(); FastAPI re-raises HTTPExceptions from body parsing, so it becomes a 413 response."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"request body is larger than the {limit}-byte limit"


class BodiesBusy(HTTPException):
    """Raised from receive() when a streamed body would pass the in-flight budget: a 503 to retry."""

    def __init__(self, budget: int) -> None:
        super().__init__(503, busy_detail(budget), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def busy_detail(budget: int) -> str:
    return f"server busy: request bodies in flight would pass {budget} bytes; retry in {RETRY_AFTER_SECONDS} s"


class BodySizeLimitMiddleware:
    """Each body at most max_body_bytes, and all bodies being received or handled at once at most
    max_bodies_in_flight: a request body lives in memory while its request runs, so without the second bound
    many connections each sending a maximal body would add up to connections x max_body_bytes."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_bodies_in_flight: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.budget = max_bodies_in_flight
        self.in_flight = 0  # bytes declared or received by the requests now running (one event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared == -1:
            await reject(send, 400, "Content-Length header is not a non-negative integer")
            return
        if declared is not None and declared > self.max_body_bytes:
            await reject(send, 413, too_large_detail(self.max_body_bytes))
            return
        reserved = declared or 0
        if reserved and self.in_flight and self.in_flight + reserved > self.budget:
            await reject(send, 503, busy_detail(self.budget), retry=True)
            return
        self.in_flight += reserved
        received = 0

        async def counting_receive() -> Message:
            nonlocal received, reserved
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                if received > reserved:  # no (or an understated) Content-Length: count it as it comes
                    self.in_flight += received - reserved
                    reserved = received
                    if self.in_flight > self.budget and self.in_flight > received:
                        raise BodiesBusy(self.budget)
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            self.in_flight -= reserved


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header's value, None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else -1
    return None


async def reject(send: Send, status: int, detail: str, retry: bool = False) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# A body up to this size may hold a small request, which the scheduler admits even past its bound.
SMALL_BODY_BYTES = 8192


class FullQueueMiddleware:
    """A large request body is refused before it is read while the work queue is full: once parsed it would be
    refused anyway, and reading and parsing it is work of its own that a flood of them would pile up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            declared = declared_length(scope)
            store = getattr(getattr(scope.get("app"), "state", None), "store", None)
            if declared is not None and declared > SMALL_BODY_BYTES and store is not None and store.queue_full():
                metrics.record_busy()
                detail = f"server busy: the work queue is full; retry in {RETRY_AFTER_SECONDS} s"
                await reject(send, 503, detail, retry=True)
                return
        await self.app(scope, receive, send)
