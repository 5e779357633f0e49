"""HEAD wherever GET works: monitors and link checkers send HEAD, and a 405 to them reads as an outage.

The routes see a GET; the response keeps GET's status and headers (Content-Length included) and loses its
body, as HTTP asks of HEAD. The scope is changed in place and changed back before the response starts, so the
server (which writes no body for HEAD) and the access log and metrics (which label it HEAD) see the truth.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            scope["method"] = "HEAD"
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        scope["method"] = "GET"
        try:
            await self.app(scope, receive, without_body)
        finally:
            scope["method"] = "HEAD"
