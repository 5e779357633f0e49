"""The served artifact's metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["model"])


@router.get("/model", summary="Metadata of the served model (from the artifact's meta.json)")
def model_info(request: Request) -> dict[str, Any]:
    artifact = request.app.state.artifact
    meta = {k: v for k, v in artifact.meta.items() if k != "history"}
    return {**meta, "path": artifact.path.name, "training_words": len(artifact.words)}
