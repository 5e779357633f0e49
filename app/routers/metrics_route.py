"""GET /metrics: Prometheus text exposition."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.metrics import exposition

router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, latency, names generated, model identity",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"}},
)
def prometheus_metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
