"""The page in a real browser: headless Debian Chromium driven by Playwright against a real uvicorn server.

Every expectation comes from the API itself during the test (GET /sample, POST /score, GET /model), so
the tests hold for whatever artifact is shipped. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Request as PlaywrightRequest
from playwright.sync_api import Response as PlaywrightResponse

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
READY_TIMEOUT_S = 120  # torch import + artifact load + warm-up on a busy 2-core machine
UI_TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: run `make browser-deps` (apt chromium)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn serving the shipped model on a free port; killed when the module is done."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NAMEGEN_LOG_LEVEL": "warning"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready within {READY_TIMEOUT_S}s:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class WatchedPage:
    """A page plus everything that went wrong in it: console errors, uncaught exceptions, failed requests."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def watch(self) -> WatchedPage:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)
        self.page.on("requestfailed", self._on_request_failed)
        self.page.on("response", self._on_response)
        return self

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _on_page_error(self, error: PlaywrightError) -> None:
        self.problems.append(f"uncaught: {error}")

    def _on_request_failed(self, request: PlaywrightRequest) -> None:
        self.problems.append(f"failed: {request.method} {request.url} {request.failure}")

    def _on_response(self, response: PlaywrightResponse) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


@pytest.fixture
def watched(browser: Browser, request: pytest.FixtureRequest) -> Iterator[WatchedPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    watched_page = WatchedPage(context.new_page()).watch()
    yield watched_page
    ARTIFACTS.mkdir(exist_ok=True)
    watched_page.page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def shown_names(page: Page, count: int) -> list[str]:
    names = page.get_by_test_id("names").get_by_test_id("name")
    expect(names).to_have_count(count)
    return [str(item.get_attribute("data-name")) for item in names.all()]


def api_sample(server: str, **params: str | int | float) -> dict[str, Any]:
    response = httpx.get(f"{server}/sample", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_generate_shows_exactly_the_names_the_api_gives_for_the_same_settings(
    server: str, watched: WatchedPage
) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_label("Names", exact=True).fill("9")
    page.get_by_label("Temperature", exact=True).fill("0.8")
    page.get_by_label("Seed", exact=True).fill("20240611")
    page.get_by_test_id("sample-button").click()

    names = shown_names(page, 9)
    expected = api_sample(server, n=9, temperature=0.8, seed=20240611)
    assert names == expected["names"]
    novel_flags = [item.get_attribute("data-novel") for item in page.get_by_test_id("name").all()]
    assert novel_flags == [str(s["novel"]).lower() for s in expected["samples"]]
    assert watched.problems == []


def test_page_url_carries_the_settings_and_the_seed_the_server_picked(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_label("Names", exact=True).fill("6")
    page.get_by_text("More settings").click()
    page.get_by_label("Top-k").fill("12")
    page.get_by_label("No repeats").check()
    page.get_by_test_id("sample-button").click()  # no seed typed: the server picks one
    names = shown_names(page, 6)

    query = {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}
    assert query["n"] == "6" and query["top_k"] == "12" and query["unique"] == "true"
    assert query["seed"] == page.get_by_label("Seed", exact=True).input_value()
    assert names == api_sample(server, **query)["names"]
    assert watched.problems == []


def test_opening_a_shared_url_reproduces_the_same_names_and_score(
    server: str, browser: Browser, watched: WatchedPage
) -> None:
    first = watched.page
    first.goto(server)
    first.get_by_label("Names", exact=True).fill("12")
    first.get_by_label("Starts with").fill("ma")
    first.get_by_role("button", name="New seed").click()  # rolls a seed and generates
    names = shown_names(first, 12)
    first.get_by_test_id("name").first.click()  # clicking a name scores it
    expect(first.locator(f'[data-testid="score-chars"][data-text="{names[0]}"]')).to_be_visible()
    shared_url = first.url
    assert "seed=" in shared_url and "prefix=ma" in shared_url and f"text={names[0]}" in shared_url

    other = WatchedPage(browser.new_page(viewport={"width": 1280, "height": 900})).watch()
    other.page.goto(shared_url)
    assert shown_names(other.page, 12) == names
    assert other.page.get_by_label("Starts with").input_value() == "ma"
    strip = other.page.locator(f'[data-testid="score-chars"][data-text="{names[0]}"] [data-loss]')
    expect(strip).to_have_count(len(names[0]) + 1)
    other.page.wait_for_load_state("networkidle")  # the model panel's plots, for the picture below
    ARTIFACTS.mkdir(exist_ok=True)  # page.png is the README's picture: copy it to docs/screenshot.png to refresh
    other.page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    other.page.close()
    assert watched.problems == [] and other.problems == []


def test_scoring_emma_colours_five_positions_with_the_api_losses(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_test_id("score-input").fill("emma")
    page.get_by_test_id("score-button").click()

    cells = page.locator('[data-testid="score-chars"][data-text="emma"] [data-loss]')
    expect(cells).to_have_count(5)
    expected = httpx.post(f"{server}/score", json={"text": "emma"}).json()
    assert [float(str(c.get_attribute("data-loss"))) for c in cells.all()] == [p["loss"] for p in expected["chars"]]
    for cell, position in zip(cells.all(), expected["chars"], strict=True):
        # Hovering shows the probability (title attribute), rounded to 3 significant figures.
        shown_percent = re.search(r"p = ([\d.]+)%", str(cell.get_attribute("title")))
        assert shown_percent is not None
        assert math.isclose(float(shown_percent.group(1)), position["prob"] * 100, rel_tol=5e-3)
    assert page.locator("#total-loss").inner_text() == f"{expected['total_loss']:.2f}"
    assert page.locator("#mean-loss").inner_text() == f"{expected['mean_loss']:.3f}"
    assert page.locator("#perplexity").inner_text() == f"{expected['perplexity']:.2f}"
    assert watched.problems == []


def test_enter_in_the_score_field_scores_without_the_mouse(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_test_id("score-input").press_sequentially("ava")
    page.get_by_test_id("score-input").press("Enter")
    expect(page.locator('[data-testid="score-chars"][data-text="ava"] [data-loss]')).to_have_count(4)
    assert watched.problems == []


def test_a_rejected_setting_shows_the_api_message(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_label("Names", exact=True).fill("0")
    page.get_by_test_id("sample-button").click()

    api_error = httpx.get(f"{server}/sample", params={"n": 0})
    assert api_error.status_code == 422
    alert = page.locator("#sample-error")
    expect(alert).to_be_visible()
    assert api_error.json()["detail"][0]["msg"] in alert.inner_text()
    expect(page.get_by_test_id("name")).to_have_count(0)


def test_model_panel_shows_size_losses_and_the_plots_that_exist(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    meta = httpx.get(f"{server}/model").json()
    facts = page.locator("#model-facts")
    expect(facts).to_contain_text(f"{meta['parameters']:,}")
    expect(facts).to_contain_text(f"{meta['block_size']} chars")
    expect(facts).to_contain_text(f"{meta['dev_loss']:.3f}")
    expect(facts).to_contain_text(f"{meta['test_loss']:.3f}")

    available = httpx.get(f"{server}/model/plots").json()["available"]
    for kind in ("loss", "embeddings"):
        figure = page.locator(f"#plot-{kind}")
        if kind in available:
            expect(figure).to_be_visible()
            assert figure.locator("img").evaluate("img => img.naturalWidth") > 0
        else:
            expect(figure).to_be_hidden()
    assert watched.problems == []
