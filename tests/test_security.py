"""What a browser may do with the service's responses: never sniff a type, never frame a page, load nothing from
elsewhere; and only files inside the model directory are served beside a model."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rawhttp import launch

from app.http.middleware.security import NO_CONTENT, PAGE
from app.main import create_app
from app.settings import SHIPPED_MODEL, Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
RESPONSES = {
    "page": ("GET", "/", None),
    "static asset": ("GET", "/static/app.js", None),
    "docs": ("GET", "/docs", None),
    "redoc": ("GET", "/redoc", None),
    "openapi": ("GET", "/openapi.json", None),
    "docs asset": ("GET", "/static-offline-docs/swagger-ui.css", None),
    "health": ("GET", "/healthz", None),
    "metrics": ("GET", "/metrics", None),
    "plot": ("GET", "/model/plots/loss", None),
    "sample": ("GET", "/sample?n=1&seed=1", None),
    "score": ("POST", "/score", {"text": "emma"}),
    "404": ("GET", "/nope", None),
    "405": ("DELETE", "/score", None),
    "422": ("POST", "/score", {"text": "?"}),
    "413": ("POST", "/score", {"text": "a" * 2_000_000}),
}


@pytest.mark.parametrize("kind", RESPONSES)
def test_every_response_forbids_type_sniffing_and_framing(client: TestClient, kind: str) -> None:
    method, path, body = RESPONSES[kind]
    response = client.request(method, path, json=body)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_json_and_files_get_the_policy_that_allows_nothing(client: TestClient) -> None:
    assert client.get("/healthz").headers["content-security-policy"] == NO_CONTENT
    assert client.get("/model/plots/loss").headers["content-security-policy"] == NO_CONTENT


def test_the_page_may_load_only_this_origins_files(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert policy == PAGE
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    for directive in ("default-src", "script-src", "style-src", "connect-src"):
        assert directives[directive] == "'self'", directive
    assert "'unsafe-inline'" not in policy and "http" not in policy


def test_the_docs_allow_their_own_inline_script_by_hash_and_no_other(client: TestClient) -> None:
    response = client.get("/docs")
    (script,) = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    directives = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert directives["script-src"] == f"'self' 'sha256-{digest}'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


# ---- files beside a model ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """A model directory whose loss plot is a symlink to a file outside it, and whose embeddings plot is a
    symlink to a regular file inside it."""
    root = tmp_path_factory.mktemp("beside")
    directory = root / "models"
    directory.mkdir()
    shutil.copy(SHIPPED_MODEL, directory / "names-mlp.pt")
    (root / "secret.txt").write_text("not a plot\n")
    (directory / "names-mlp.loss.png").symlink_to(root / "secret.txt")
    (directory / "kept.png").write_bytes(b"\x89PNG inside\n")
    (directory / "names-mlp.embeddings.png").symlink_to("kept.png")
    with TestClient(create_app(Settings(model_path=directory, warm_names=0))) as client:
        yield client, directory


def test_a_plot_that_leads_outside_the_model_directory_is_not_served(beside: tuple[TestClient, Path]) -> None:
    client, _ = beside
    response = client.get("/model/plots/loss")
    assert response.status_code == 404
    assert b"not a plot" not in response.content


def test_a_plot_that_stays_inside_the_model_directory_is_served(beside: tuple[TestClient, Path]) -> None:
    client, _ = beside
    response = client.get("/model/plots/embeddings")
    assert (response.status_code, response.content) == (200, b"\x89PNG inside\n")


def test_the_plot_list_names_only_the_plots_that_are_served(beside: tuple[TestClient, Path]) -> None:
    client, _ = beside
    assert client.get("/model/plots").json() == {"available": ["embeddings"]}


def test_a_directory_named_like_a_plot_is_not_served(tmp_path: Path) -> None:
    shutil.copy(SHIPPED_MODEL, tmp_path / "names-mlp.pt")
    (tmp_path / "names-mlp.loss.png").mkdir()
    with TestClient(create_app(Settings(model_path=tmp_path, warm_names=0))) as client:
        assert client.get("/model/plots/loss").status_code == 404


# ---- the docs under their policies, in a browser ------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: run `make browser-deps` (apt chromium)")
@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".opblock"), ("/redoc", "li[data-item-id]")])
def test_the_docs_render_under_their_policy_and_load_nothing_from_elsewhere(
    tmp_path: Path, path: str, rendered: str
) -> None:
    from playwright.sync_api import sync_playwright

    server = launch(tmp_path, {"NAMEGEN_WARM_NAMES": "0", "NAMEGEN_LOG_LEVEL": "warning"})
    try:
        server.wait_ready(timeout=90)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{server.base_url}{path}")
            page.wait_for_selector(rendered, timeout=30_000)
            operations = page.locator(rendered).count()
            browser.close()
    finally:
        server.kill()
    assert operations >= 10  # every route of the API, listed
    # The policy refuses only what would come from elsewhere (ReDoc's footer logo, from cdn.redoc.ly).
    assert all("'https://" in message for message in refused), refused
