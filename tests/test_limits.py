"""Every request's work is bounded by the settings: n, text length (and the text read at all), batch size, body
size, constraint retries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.engine.textrules import Normalized, TextRules
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
    assert "has 9 characters; the limit is 8" in str(response.json()["detail"])


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


def test_bodies_in_flight_past_the_budget_are_503_while_one_alone_always_passes() -> None:
    from app.http.middleware.limits import BodySizeLimitMiddleware

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


# ---- text is capped before it is read ----------------------------------------------------------------------------

# Combining marks in reverse canonical order: NFC sorts them, in time quadratic in the run's length.
REORDERED_MARKS = "\u0301" * 300 + "\u0316" * 300
# Each entry: the request, where its 422 points, and the raw cap (4 × the text limit of 64, the name limit of 32).
TEXT_ENTRIES = {
    "POST /score": (lambda c, text: c.post("/score", json={"text": text}), ["body", "text"], 256),
    "POST /score/batch": (
        lambda c, text: c.post("/score/batch", json={"texts": ["emma", text]}),
        ["body", "texts", 1],
        256,
    ),
    "GET /next": (lambda c, text: c.get("/next", params={"prefix": text}), ["query", "prefix"], 256),
    "GET /sample": (lambda c, text: c.get("/sample", params={"prefix": text}), ["query", "prefix"], 128),
}


@pytest.fixture
def normalized_lengths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every text TextRules.normalize receives while the test runs."""
    seen: list[int] = []
    original = TextRules.normalize

    def spy(self: TextRules, text: str, what: str) -> Normalized:
        seen.append(len(text))
        return original(self, text, what)

    monkeypatch.setattr(TextRules, "normalize", spy)
    return seen


@pytest.mark.parametrize("entry", TEXT_ENTRIES)
def test_text_past_the_raw_cap_is_a_422_naming_the_cap_and_is_never_normalized(
    client: TestClient, normalized_lengths: list[int], entry: str
) -> None:
    call, loc, cap = TEXT_ENTRIES[entry]
    response = call(client, REORDERED_MARKS)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (loc, "too_long")
    assert problem["msg"].startswith("has 600 characters as sent; at most ")
    assert max(normalized_lengths, default=0) <= cap


@pytest.mark.parametrize("entry", TEXT_ENTRIES)
def test_text_at_the_raw_cap_is_read(client: TestClient, normalized_lengths: list[int], entry: str) -> None:
    call, _, cap = TEXT_ENTRIES[entry]
    response = call(client, " " * (cap - 2) + "em")  # stripped to "em": valid everywhere
    assert response.status_code == 200
    assert cap in normalized_lengths


@pytest.mark.parametrize("path", ["/score", "/score/batch"])
def test_a_mebibyte_of_reordered_combining_marks_is_a_422_before_any_normalization(
    client: TestClient, normalized_lengths: list[int], path: str
) -> None:
    half = (1_048_576 - 32) // 4  # two UTF-8 bytes per mark, two runs
    text = "\u0301" * half + "\u0316" * half
    body = orjson.dumps({"text": text} if path == "/score" else {"texts": [text]})
    assert 1_048_000 < len(body) <= 1_048_576  # within the body cap: the text cap must refuse it
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "at most 256 characters and 512 bytes are read" in response.json()["detail"][0]["msg"]
    assert normalized_lengths == []


def test_the_body_cap_comes_before_json_parsing(limited: TestClient) -> None:
    response = limited.post("/score", content=b"{" * 2049, headers={"Content-Type": "application/json"})
    assert response.status_code == 413  # not the 422 that parsing this would give
