"""GET /docs (Swagger UI) and /redoc: the API documentation, its scripts bundled by fastapi-offline (served at
DOCS_ASSETS, so it works offline), each page with a Content-Security-Policy that allows its own inline script
by hash and nothing from elsewhere. (fastapi-offline's own routes for them set no policy.)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.http.middleware.security import docs_policy

router = APIRouter(include_in_schema=False)

DOCS_ASSETS = "/static-offline-docs"  # where FastAPIOffline mounts its bundled files


def with_policy(page: HTMLResponse, **relaxed: str) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body), **relaxed)
    return page


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return with_policy(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        )
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return with_policy(
        get_redoc_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        ),
        style_src="'self' 'unsafe-inline'",
        worker_src="blob:",
    )
