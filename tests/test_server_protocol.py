"""BoundedHttpProtocol on its own, with a stand-in transport: the bound a real client cannot easily provoke on
loopback (the kernel's socket buffers swallow an unread response there)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from app.http.protocol import BoundedHttpProtocol
from app.settings import get_settings


class StandInTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = self.closing = False
        self.written = b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closing or self.aborted

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def noop_app(scope: Any, receive: Any, send: Any) -> None: ...


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NAMEGEN_SEND_TIMEOUT_SECONDS", "0.1")
    monkeypatch.setenv("NAMEGEN_KEEP_ALIVE_SECONDS", "5")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def connected(loop: asyncio.AbstractEventLoop) -> tuple[BoundedHttpProtocol, StandInTransport]:
    config = Config(noop_app, log_config=None)
    protocol = BoundedHttpProtocol(config, ServerState(), {}, _loop=loop)
    transport = StandInTransport()
    protocol.connection_made(transport)
    return protocol, transport


def test_a_response_the_client_stops_reading_is_dropped_after_the_send_timeout(short_timeouts: None) -> None:
    async def run() -> StandInTransport:
        protocol, transport = connected(asyncio.get_running_loop())
        protocol.pause_writing()  # what the transport says when its buffer passes the high-water mark
        await asyncio.sleep(0.3)
        return transport

    assert asyncio.run(run()).aborted


def test_a_client_that_resumes_reading_in_time_keeps_its_connection(short_timeouts: None) -> None:
    async def run() -> StandInTransport:
        protocol, transport = connected(asyncio.get_running_loop())
        protocol.pause_writing()
        await asyncio.sleep(0.02)
        protocol.resume_writing()
        await asyncio.sleep(0.3)
        return transport

    transport = asyncio.run(run())
    assert not transport.aborted and not transport.closing
