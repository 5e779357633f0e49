"""GET /metrics: Prometheus text exposition."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.http.metrics import exposition

router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, latency, names generated, queued work, refusals, model identity",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"}},
)
async def prometheus_metrics(request: Request) -> Response:
    store = getattr(request.app.state, "store", None)
    body, content_type = exposition(store.queued_work() if store is not None else None)
    return Response(body, media_type=content_type)
