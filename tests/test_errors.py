"""Strings users really send, and malformed requests: each gets a clear 4xx (or a normalization the response
shows), never a 500, a stack trace or an internal path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.http.middleware.observability import SHUTDOWN_DETAIL, ObservabilityMiddleware
from app.main import create_app
from app.settings import Settings

INTERNAL_MARKERS = ("Traceback", "/work/", "site-packages", 'File "', ".py")


def assert_nothing_internal(response: httpx.Response) -> None:
    for marker in INTERNAL_MARKERS:
        assert marker not in response.text, f"{marker!r} leaked in {response.text[:300]}"


def detail_text(response: httpx.Response) -> str:
    """The error message(s) as one string, whether detail is a message or FastAPI's list of problems."""
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else " | ".join(f"{p['loc']}: {p['msg']}" for p in detail)


def score_one_and_batch(client: TestClient, text: Any) -> list[httpx.Response]:
    return [client.post("/score", json={"text": text}), client.post("/score/batch", json={"texts": [text]})]


@pytest.mark.parametrize(
    ("sent", "used"),
    [("EMMA", "emma"), ("  emma\t", "emma"), ("  Olivia ", "olivia")],
)
def test_case_and_surrounding_space_are_normalized_and_shown(client: TestClient, sent: str, used: str) -> None:
    plain = client.post("/score", json={"text": used}).json()
    single, batch = score_one_and_batch(client, sent)
    for result in (single.json(), batch.json()["results"][0]):
        assert (result["input"], result["text"], result["normalized"]) == (sent, used, True)
        assert result["total_loss"] == pytest.approx(plain["total_loss"], abs=1e-9)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("ßophie", "'ß' at position 0"),  # no simple fold maps it in (accents do fold, with a note: test_api_score.py)
        ("anna2", "'2' at position 4"),  # digit
        ("mary ann", "' ' at position 4"),  # space inside
        ("jo-ann", "'-' at position 2"),
        ("zoe😀", "'😀' at position 3"),  # emoji
        ("a\x00b", "'\\x00' at position 1"),  # NUL, shown escaped
        ("o'neil", '"\'" at position 1'),
    ],
)
def test_characters_outside_the_vocabulary_are_422_naming_them(client: TestClient, text: str, named: str) -> None:
    for response in score_one_and_batch(client, text):
        assert response.status_code == 422
        assert f"character {named} is outside the model's vocabulary" in detail_text(response)
        assert_nothing_internal(response)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_422(client: TestClient, text: str) -> None:
    for response in score_one_and_batch(client, text):
        assert response.status_code == 422
        assert "empty" in detail_text(response)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "text"),  # field missing
        ({"text": 5}, "text"),  # wrong type
        ({"text": None}, "text"),
        ({"text": ["emma"]}, "text"),
        ({"text": "emma", "extra": 1}, "extra"),  # unknown fields are refused, not ignored
        (["emma"], "body"),  # not an object
        ("emma", "body"),
    ],
)
def test_json_of_the_wrong_shape_is_422_naming_the_field(client: TestClient, body: Any, where: str) -> None:
    response = client.post("/score", json=body)
    assert response.status_code == 422
    assert where in detail_text(response)
    assert_nothing_internal(response)


@pytest.mark.parametrize("body", [{"texts": "emma"}, {"texts": [1, 2]}, {"text": "emma"}, {"texts": [None]}])
def test_batch_of_the_wrong_shape_is_422(client: TestClient, body: Any) -> None:
    response = client.post("/score/batch", json=body)
    assert response.status_code == 422
    assert "texts" in detail_text(response)


@pytest.mark.parametrize("path", ["/score", "/score/batch"])
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"text": "em\xffma"}', "not UTF-8"),
        (b'{"text": "emma"', "not valid JSON"),
        (b"", "body is missing"),
        (b"\x00\x01\x02", "not valid JSON"),
    ],
)
def test_undecodable_bodies_are_422_saying_why(client: TestClient, path: str, raw: bytes, says: str) -> None:
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert says in detail_text(response)
    assert_nothing_internal(response)


def test_json_sent_without_a_json_content_type_is_422_saying_so(client: TestClient) -> None:
    response = client.post("/score", content=b'{"text": "emma"}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert "Content-Type: application/json" in detail_text(response)


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_wrong_method_is_a_json_405_with_allow(client: TestClient) -> None:
    response = client.get("/score")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})
    assert "POST" in response.headers["allow"]


@pytest.fixture
def app_with_a_failing_route() -> Iterator[tuple[FastAPI, TestClient]]:
    """The real app plus one route that fails the way a bug would, with an internal path in its message."""
    app = create_app(Settings())

    def broken() -> dict[str, str]:
        raise RuntimeError("secret detail at /work/main/app/engine/engine.py line 1")

    app.add_api_route("/broken-for-test", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def test_an_unexpected_error_is_a_generic_500_with_the_request_id(
    app_with_a_failing_route: tuple[FastAPI, TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    _, client = app_with_a_failing_route
    response = client.get("/broken-for-test", headers={"X-Request-ID": "bug-hunt-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error", "request_id": "bug-hunt-1"}
    assert response.headers["x-request-id"] == "bug-hunt-1"
    assert_nothing_internal(response)
    logged = capsys.readouterr().out
    assert "secret detail" in logged  # the operator sees it in the error log, the client does not


def test_a_request_cancelled_at_shutdown_is_a_json_503_with_retry_after() -> None:
    """uvicorn cancels what is still running when its graceful shutdown timeout ends; CancelledError is not an
    Exception, so without its own answer the client would get uvicorn's text/plain 500."""

    async def cut_off(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError("Task cancelled, timeout graceful shutdown exceeded")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/sample", "headers": [], "client": ("127.0.0.1", 1)}
    asyncio.run(ObservabilityMiddleware(cut_off)(scope, None, send))  # type: ignore[arg-type]
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 503
    assert (headers[b"content-type"], headers[b"retry-after"]) == (b"application/json", b"1")
    assert json.loads(body["body"]) == {"detail": SHUTDOWN_DETAIL}
