"""uvicorn's httptools protocol with every connection bounded: head size, head and body time, idle time, and
the number of connections.

uvicorn bounds none of these on its httptools protocol (only h11's has a head size limit, and neither closes a
connection that never sends a byte), and a server open to the internet must: otherwise a client can pin memory
with an endless header or hold every file descriptor with silent sockets. The checks sit where the bytes
arrive, before the app sees a request, and each refusal is one JSON line with `Connection: close`:

- a request line and headers over `max_header_bytes`: 431 (counted as the bytes arrive, before parsing ends);
- a head not complete `header_timeout_seconds` after its first byte: 408;
- a body not complete `body_timeout_seconds` after its head: 408;
- no request started `keep_alive_seconds` after the connection opened or its last response: closed;
- a connection beyond `max_connections`: 503 with Retry-After, closed at once;
- a response the client does not read for `send_timeout_seconds`: dropped, the connection aborted;
- bytes that are not HTTP: 400 (uvicorn's own answer is text/plain).

`python -m app.http.serve` passes this class to uvicorn as its HTTP protocol.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from app.engine.scheduler import RETRY_AFTER_SECONDS
from app.settings import get_settings


def count_refusal(reason: str) -> None:
    # Imported here, in the worker: the supervisor of several workers imports this module too, and must not
    # create metric files before it has prepared their directory.
    from app.http import metrics

    metrics.record_connection_closed(reason)


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()  # the NAMEGEN_ settings of this worker process
        self.max_connections = settings.max_connections
        self.max_header_bytes = settings.max_header_bytes
        self.header_timeout = settings.header_timeout_seconds
        self.body_timeout = settings.body_timeout_seconds
        self.send_timeout = settings.send_timeout_seconds
        self.stalled: TimerHandle | None = None  # set while the client is not reading what we send
        self.timeout_keep_alive = settings.keep_alive_seconds  # type: ignore[assignment]  # uvicorn's idle timer
        self.in_head = True  # between a request's first byte (or the connection's start) and its end of head
        self.head_bytes = 0
        self.deadline: TimerHandle | None = None  # the head's or the body's

    # -- connection ---------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.refuse(503, f"too many connections (the limit is {self.max_connections}); retry later", "connections")
            return
        # uvicorn arms its idle timer only after a response; a connection that never sends a byte needs it too.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self.resume_writing()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client has stopped reading and the response waits in memory: it may wait only so long."""
        super().pause_writing()
        if self.stalled is None:
            self.stalled = self.loop.call_later(self.send_timeout, self._drop_unread_response)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None

    def _drop_unread_response(self) -> None:
        self.stalled = None
        count_refusal("send_time")
        if self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.abort()  # close() would wait to flush what the client does not read

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            count_refusal("idle")
        super().timeout_keep_alive_handler()

    def data_received(self, data: bytes) -> None:
        """Feed the parser no more of a head than the limit: a head the parser has not seen end after the
        limit's worth of bytes is refused, whatever the size of the reads that brought it.

        The rest (bodies) goes in pieces of the same size, so a pipelined head that starts inside a piece has
        less than the limit's worth of bytes there uncounted: it too is held to at most twice the limit."""
        while data and not self.transport.is_closing():
            size = self.max_header_bytes - self.head_bytes if self.in_head else self.max_header_bytes
            piece, data = data[:size], data[size:]
            if self.in_head:
                self.head_bytes += len(piece)
            super().data_received(piece)
            if self.in_head and self.head_bytes >= self.max_header_bytes and not self.transport.is_closing():
                self.refuse(431, f"request head is larger than the {self.max_header_bytes}-byte limit", "head_size")

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, in the one JSON shape (its own is text/plain)."""
        self.refuse(400, "invalid HTTP request: it could not be parsed", "malformed")

    # -- parser callbacks -----------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._set_deadline(self.header_timeout, "request head not complete within", "head_time")

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()
        self._set_deadline(self.body_timeout, "request body not complete within", "body_time")

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        self.in_head, self.head_bytes = True, 0  # whatever comes next on this connection is the next head
        super().on_message_complete()

    # -- refusals -------------------------------------------------------------------------------------------

    def _set_deadline(self, seconds: float, what: str, reason: str) -> None:
        self._cancel_deadline()
        self.deadline = self.loop.call_later(seconds, self._deadline_passed, f"{what} {seconds:g} s", reason)

    def _cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _deadline_passed(self, message: str, reason: str) -> None:
        self.deadline = None
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            # The app already answered (say, a 413 without reading the body): just stop reading.
            count_refusal(reason)
            self.transport.close()
            return
        self.refuse(408, message, reason)

    def refuse(self, status: int, message: str, reason: str) -> None:
        """Answer with one JSON line and close; a request the app is still handling is told its client has gone."""
        count_refusal(reason)
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() says http.disconnect, its send() writes nothing
            cycle.message_event.set()
        body = orjson.dumps({"detail": message})
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n",
            b"x-content-type-options: nosniff\r\n",
        ]
        if status == 503:
            head.append(b"retry-after: " + str(RETRY_AFTER_SECONDS).encode() + b"\r\n")
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()
