"""Exception handlers: every error is JSON, says what was wrong, and never carries a traceback or a path."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.engine.problems import InvalidInput
from app.engine.scheduler import RETRY_AFTER_SECONDS, Busy, ClientGone
from app.engine.store import UnknownModel
from app.http import metrics
from app.http.logs import get_logger

error_log = get_logger("error")


def problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """One entry of a 422's detail list, in FastAPI's documented shape (loc, msg, type)."""
    return {"loc": loc, "msg": msg, "type": kind}


def is_json_request(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def validation_problems(request: Request, exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's error list without the echoed input (it can be large or unprintable), with clearer messages.

    Each problem once: a body that fails validation is validated again by every dependency that uses it (a
    failed dependency is not cached), so FastAPI can list the same error twice."""
    problems: list[dict[str, Any]] = []
    for error in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
        kind = str(error.get("type", "value_error"))
        message = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":
            reason = (error.get("ctx") or {}).get("error")
            message = f"request body is not valid JSON ({reason})" if reason else "request body is not valid JSON"
        elif loc == ["body"] and kind == "missing":
            message = "request body is missing: send a JSON object"
        elif loc == ["body"] and request.method in ("POST", "PUT", "PATCH") and not is_json_request(request):
            content_type = request.headers.get("content-type", "none")[:80]
            message = (
                f"request body must be a JSON object sent with Content-Type: application/json (got {content_type})"
            )
        entry = problem(loc, message, kind)
        if entry not in problems:
            problems.append(entry)
    return problems


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_problems(request, exc)}, status_code=422)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        # FastAPI reports a body that is not UTF-8 as a bare 400 "error parsing the body"; JSON must be UTF-8,
        # so say so, in the same shape as other invalid JSON.
        message = f"request body is not valid JSON (not UTF-8: byte 0x{cause.object[cause.start]:02x} at {cause.start})"
        return JSONResponse({"detail": [problem(["body"], message, "json_invalid")]}, status_code=422)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def parameters_root(request: Request) -> str:
    """Where the matched route's parameters are: "body" for a route that takes a body, else "query"."""
    route = request.scope.get("route")
    return "body" if getattr(route, "body_field", None) is not None else "query"


async def on_invalid_input(request: Request, exc: Exception) -> JSONResponse:
    """The engine's checks (limits, vocabulary, fields together) in the same shape as the field checks, each
    problem located by the route's parameters ("query" or "body") and the field of the engine's request."""
    assert isinstance(exc, InvalidInput)
    root = parameters_root(request)
    return JSONResponse({"detail": [problem([root, *p.loc], p.msg, p.type) for p in exc.problems]}, status_code=422)


async def on_unknown_model(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownModel)
    return JSONResponse({"detail": str(exc), "models": exc.served}, status_code=404)


async def on_busy(request: Request, exc: Exception) -> JSONResponse:
    metrics.record_busy()
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# nginx's code for "client closed request": nobody reads it, but the access log and metrics say what happened.
CLIENT_CLOSED_REQUEST = 499


async def on_client_gone(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ClientGone):
        metrics.record_abandoned()
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Last resort behind the observability middleware's own catch; logs everything, returns nothing internal."""
    request_id = str(getattr(request.state, "request_id", ""))
    error_log.error("unhandled error", exc_info=exc, extra={"fields": {"path": request.url.path}})
    return JSONResponse({"detail": "internal server error", "request_id": request_id}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(InvalidInput, on_invalid_input)
    app.add_exception_handler(UnknownModel, on_unknown_model)
    app.add_exception_handler(Busy, on_busy)
    app.add_exception_handler(ClientGone, on_client_gone)
    app.add_exception_handler(ClientDisconnect, on_client_gone)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
