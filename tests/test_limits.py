"""Every request's work is bounded by the settings: n, text length, batch size, body size, constraint retries."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

LIMITS = Settings(max_n=8, max_text_length=8, max_batch=3, max_body_bytes=2048, max_attempts=2)


@pytest.fixture(scope="module")
def limited() -> Iterator[TestClient]:
    with TestClient(create_app(LIMITS)) as client:
        yield client


def test_n_up_to_max_n_is_served_and_above_is_422(limited: TestClient) -> None:
    assert limited.get("/sample", params={"n": 8, "seed": 1}).json()["returned"] == 8
    response = limited.get("/sample", params={"n": 9, "seed": 1})
    assert response.status_code == 422
    assert "8" in str(response.json()["detail"])


def test_text_up_to_max_text_length_is_scored_and_longer_is_422(limited: TestClient) -> None:
    assert limited.post("/score", json={"text": "a" * 8}).status_code == 200
    response = limited.post("/score", json={"text": "a" * 9})
    assert response.status_code == 422
    assert "8" in str(response.json()["detail"])


def test_batch_up_to_max_batch_is_scored_and_larger_is_422(limited: TestClient) -> None:
    assert len(limited.post("/score/batch", json={"texts": ["ab"] * 3}).json()["results"]) == 3
    response = limited.post("/score/batch", json={"texts": ["ab"] * 4})
    assert response.status_code == 422
    assert "3" in str(response.json()["detail"])


def json_body_of_size(size: int) -> bytes:
    """A valid /score body of exactly `size` bytes (padding is JSON whitespace)."""
    core = b'{"text": "emma"}'
    return core[:-1] + b" " * (size - len(core)) + b"}"


def test_body_at_the_cap_is_read_and_one_byte_more_is_413(limited: TestClient) -> None:
    headers = {"Content-Type": "application/json"}
    assert limited.post("/score", content=json_body_of_size(2048), headers=headers).status_code == 200
    response = limited.post("/score", content=json_body_of_size(2049), headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than the 2048-byte limit"}


def test_chunked_bodies_are_counted_as_they_stream(limited: TestClient) -> None:
    def chunks(body: bytes) -> Iterator[bytes]:  # an iterator makes the client send Transfer-Encoding: chunked
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    headers = {"Content-Type": "application/json"}
    small = limited.post("/score", content=chunks(json_body_of_size(2000)), headers=headers)
    large = limited.post("/score", content=chunks(json_body_of_size(5000)), headers=headers)
    assert small.status_code == 200
    assert large.status_code == 413


def call_asgi(app: FastAPI, headers: list[tuple[bytes, bytes]], chunk: bytes, chunks: int) -> tuple[int, int]:
    """POST /score straight through the ASGI interface; returns (status, body bytes the app pulled)."""
    pulled = 0
    sent = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled, sent
        sent += 1
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/score", "raw_path": b"/score", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers], "client": ("127.0.0.1", 1), "server": None,
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status, pulled


def test_declared_oversize_is_refused_before_reading_any_body() -> None:
    app = create_app(LIMITS)
    status, pulled = call_asgi(app, [(b"content-length", b"10000000")], b"x" * 65536, chunks=153)
    assert (status, pulled) == (413, 0)


def test_an_endless_chunked_body_is_cut_off_just_past_the_cap() -> None:
    app = create_app(LIMITS)
    status, pulled = call_asgi(app, [(b"transfer-encoding", b"chunked")], b"x" * 1000, chunks=10_000)
    assert status == 413
    assert pulled <= LIMITS.max_body_bytes + 1000  # stopped within one chunk of the cap, not 10 MB later


def test_malformed_content_length_is_400() -> None:
    app = create_app(LIMITS)
    status, pulled = call_asgi(app, [(b"content-length", b"12abc")], b"{}", chunks=1)
    assert (status, pulled) == (400, 0)


def test_constraint_retries_stop_at_max_attempts() -> None:
    # Only 26 two-letter names start with "q", so 30 distinct ones can never be found: the engine must give up
    # after max_attempts sampling rounds and say so, not loop.
    impossible = {"n": 30, "prefix": "q", "min_length": 2, "max_length": 2, "unique": True, "seed": 3}
    with TestClient(create_app(Settings(max_attempts=2, max_n=40))) as client:
        result = client.get("/sample", params=impossible).json()
    assert result["attempts"] == 2
    assert result["complete"] is False
    assert result["returned"] <= 26
    assert result["message"]


def test_sampler_threads_default_to_the_usable_cores_shared_among_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert Settings().resolved_sampler_threads() == 4
    assert Settings(workers=2).resolved_sampler_threads() == 2
    assert Settings(workers=8).resolved_sampler_threads() == 1
    assert Settings(workers=2, sampler_threads=3).resolved_sampler_threads() == 3


def test_bodies_in_flight_past_the_budget_are_503_while_one_alone_always_passes() -> None:
    from app.limits import BodySizeLimitMiddleware

    release = asyncio.Event()
    statuses: list[int] = []

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await release.wait()  # the first request holds its body while it is handled
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = BodySizeLimitMiddleware(slow_app, max_body_bytes=4096, max_bodies_in_flight=5000)

    async def post(size: int) -> None:
        scope = {"type": "http", "method": "POST", "headers": [(b"content-length", str(size).encode())]}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"x" * size, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                release.set()

        await middleware(scope, receive, send)

    async def run() -> None:
        first = asyncio.create_task(post(4000))  # alone: admitted, although 4000 + 4000 > 5000
        await asyncio.sleep(0.01)
        await post(4000)  # 503, and that lets the first one finish
        await first
        await post(4000)  # the budget is free again

    asyncio.run(run())
    assert statuses == [503, 200, 200]
    assert middleware.in_flight == 0
