"""The web page at GET /, its static assets, and the training plots shown in its model panel.

Assets are served from a fixed allow-list (no user-supplied paths reach the filesystem), and the page carries
a Content-Security-Policy that only allows this origin (app.http.middleware.security.PAGE), so it works
offline and cannot pull anything external. A plot is served only when it is a regular file inside its model's directory.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from app.engine.artifact import PLOT_KINDS, PlotKind, plot_file
from app.engine.store import ModelStore
from app.http.dependencies import StoreDep, served_model
from app.http.middleware.security import PAGE
from app.http.queries import parse_query, query_parameters
from app.http.schemas import INVALID, UNKNOWN_MODEL, ModelQuery

router = APIRouter()

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# name -> media type, listed once at import; a request names a key of this dict or gets a 404, so no
# user-supplied path ever reaches the filesystem. index.html is served at / only.
STATIC_ASSETS = {path.name: MEDIA_TYPES[path.suffix] for path in STATIC_DIR.iterdir() if path.suffix in MEDIA_TYPES}

# Revalidate every time: the files are tiny, and a redeploy must never leave a stale script behind.
NO_CACHE = "no-cache"


def file_response(request: Request, path: Path, media_type: str, headers: dict[str, str] | None = None) -> Response:
    """The file, or an empty 304 when the browser's copy (If-None-Match) is current: no-cache stays cheap."""
    stat = path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    all_headers = {"Cache-Control": NO_CACHE, "ETag": etag, **(headers or {})}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=all_headers)
    return FileResponse(path, media_type=media_type, headers=all_headers)


@router.get("/", include_in_schema=False)
def index(request: Request) -> Response:
    headers = {"Content-Security-Policy": PAGE}
    return file_response(request, STATIC_DIR / "index.html", "text/html; charset=utf-8", headers)


@router.get("/static/{name}", include_in_schema=False)
def static_asset(name: str, request: Request) -> Response:
    media_type = STATIC_ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no static asset named {name!r}")
    return file_response(request, STATIC_DIR / name, media_type)


def plot_path(model_path: Path, kind: PlotKind) -> Path | None:
    """Where training writes a plot beside the artifact (plot_file: names-mlp.pt -> names-mlp.loss.png), resolved;
    None unless that is a regular file inside the artifact's directory (a symlink may not lead out of it)."""
    directory = model_path.parent.resolve()
    path = (directory / plot_file(model_path, kind).name).resolve()
    return path if path.is_relative_to(directory) and path.is_file() else None


def requested_artifact(request: Request, store: ModelStore) -> Path:
    """The artifact file of the model the query names (the default one without `model`)."""
    return served_model(request, store, parse_query(request, ModelQuery).model).artifact.path


@router.get(
    "/model/plots",
    tags=["model"],
    summary="Which training plots exist beside a served model's artifact",
    responses={**INVALID, **UNKNOWN_MODEL},
    openapi_extra={"parameters": query_parameters(ModelQuery)},
)
async def plot_list(request: Request, store: StoreDep) -> dict[str, list[str]]:
    path = requested_artifact(request, store)
    return {"available": [kind for kind in PLOT_KINDS if plot_path(path, kind) is not None]}


@router.get(
    "/model/plots/{kind}",
    tags=["model"],
    summary="A training plot of a served model (PNG)",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}}},
        404: {"description": "no such model, or the model has no such plot"},
        **INVALID,
    },
    openapi_extra={"parameters": query_parameters(ModelQuery)},
)
async def plot(kind: PlotKind, request: Request, store: StoreDep) -> Response:
    artifact = requested_artifact(request, store)
    path = plot_path(artifact, kind)
    if path is None:
        name = plot_file(artifact, kind).name
        raise HTTPException(status_code=404, detail=f"the model has no {kind} plot ({name!r} is absent or not a file)")
    return file_response(request, path, "image/png")
