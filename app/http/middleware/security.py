"""The headers every response carries for the browser: `X-Content-Type-Options: nosniff` and a
Content-Security-Policy.

The page and the API docs set their own policy (below, one per page: each loads only this origin's files and
may not be framed); every other response (JSON, errors, metrics, plots, scripts) gets NO_CONTENT: opened as a
document, it may run nothing, load nothing and be framed by no one.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline styles only: browsers style their own viewers of images and text inline, and a style alone can load
# nothing under default-src 'none'.
NO_CONTENT = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The page (app/static) is plain files of this origin: no inline script or style, no data: or remote images.
PAGE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(html: bytes, style_src: str = "'self'", worker_src: str = "'self'") -> str:
    """The policy of an API docs page: its bundled scripts and styles (this origin), the inline script that
    starts it (allowed by its hash, nothing else inline), the OpenAPI schema fetched from this origin. ReDoc
    needs more: it writes its styles into <style> elements and runs its search in a blob: worker."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self'{hashes}; style-src {style_src}; img-src 'self' data:; "
        f"connect-src 'self'; worker-src {worker_src}; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("Content-Security-Policy", NO_CONTENT)
            await send(message)

        await self.app(scope, receive, with_headers)
