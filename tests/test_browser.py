"""The page in a real browser: headless Debian Chromium driven by Playwright against a real uvicorn server.

Every expectation comes from the API itself during the test (GET /sample, POST /score, GET /model), so
the tests hold for whatever artifact is shipped. Screenshots go to test-artifacts/ (git-ignored).
Accessibility is checked with axe-core (npm, installed into .cache/axe by `make browser-deps`), run in
the page at desktop and phone sizes in every state the page can be in.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, Route, expect, sync_playwright
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
AXE = REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
READY_TIMEOUT_S = 120  # torch import + artifact load + warm-up on a busy 2-core machine
UI_TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: run `make browser-deps` (apt chromium)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn serving the shipped model on a free port; killed when the module is done.
    NAMEGEN_TEST_SERVER=http://host:port tests an already running server instead."""
    if os.environ.get("NAMEGEN_TEST_SERVER"):
        yield os.environ["NAMEGEN_TEST_SERVER"].rstrip("/")
        return
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
    page.get_by_text("More settings", exact=True).click()
    page.get_by_label("Top-k").fill("12")
    page.get_by_label("No repeats").check()
    page.get_by_test_id("sample-button").click()  # no seed typed: the server picks one
    names = shown_names(page, 6)

    query = {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}
    assert query["n"] == "6" and query["top_k"] == "12" and query["unique"] == "true"
    expect(page.get_by_test_id("shown-seed")).to_have_text(query["seed"])  # beside the button, one click away
    assert page.get_by_label("Seed", exact=True).input_value() == ""  # not typed: it does not stick
    assert names == api_sample(server, **query)["names"]
    assert watched.problems == []


def test_opening_a_shared_url_reproduces_the_same_names_and_score(
    server: str, browser: Browser, watched: WatchedPage
) -> None:
    first = watched.page
    first.goto(server)
    first.get_by_label("Names", exact=True).fill("12")
    first.get_by_label("Starts with").fill("ma")
    first.get_by_test_id("sample-button").click()  # no seed typed: the server picks one, and the link carries it
    names = shown_names(first, 12)
    first.get_by_test_id("name").first.click()  # clicking a name scores it
    expect(first.locator(f'[data-testid="score-chars"][data-text="{names[0]}"]')).to_be_visible()
    shared_url = first.url
    assert "seed=" in shared_url and "prefix=ma" in shared_url and f"text={names[0]}" in shared_url

    other = WatchedPage(browser.new_page(viewport={"width": 1280, "height": 900})).watch()
    other.page.goto(shared_url)
    assert shown_names(other.page, 12) == names
    assert other.page.get_by_label("Starts with").input_value() == "ma"
    seed = parse_qs(urlsplit(shared_url).query)["seed"][0]
    expect(other.page.get_by_test_id("shown-seed")).to_have_text(seed)
    assert other.page.get_by_label("Seed", exact=True).input_value() == ""  # the link's seed is used once
    strip = other.page.locator(f'[data-testid="score-chars"][data-text="{names[0]}"] [data-loss]')
    expect(strip).to_have_count(len(names[0]) + 1)
    other.page.wait_for_load_state("networkidle")  # the model panel's plots, for the picture below
    ARTIFACTS.mkdir(exist_ok=True)  # a picture of this state to look at (git-ignored)
    other.page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    other.page.close()
    assert watched.problems == [] and other.problems == []


def shown_seed(page: Page) -> str:
    """The seed of the names shown, as the page shows it beside the Generate button."""
    seed = page.get_by_test_id("shown-seed")
    expect(seed).to_have_text(re.compile(r"^\d+$"))
    return seed.inner_text()


def test_pressing_generate_again_gives_new_names_each_the_api_gives_for_the_seed_shown(
    server: str, watched: WatchedPage
) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_label("Names", exact=True).fill("8")
    page.get_by_test_id("sample-button").click()
    first, first_seed = shown_names(page, 8), shown_seed(page)
    page.get_by_test_id("sample-button").click()
    expect(page.get_by_test_id("shown-seed")).not_to_have_text(first_seed)
    second, second_seed = shown_names(page, 8), shown_seed(page)

    assert second != first
    assert first == api_sample(server, n=8, seed=first_seed)["names"]
    assert second == api_sample(server, n=8, seed=second_seed)["names"]
    assert page.get_by_label("Seed", exact=True).input_value() == ""
    assert parse_qs(urlsplit(page.url).query)["seed"] == [second_seed]  # the link reproduces what is shown
    assert watched.problems == []


def test_same_seed_again_asks_the_seed_shown_once_and_generate_then_moves_on(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 8)
    seed = shown_seed(page)
    same_again = page.get_by_test_id("same-again")
    with page.expect_response(re.compile(rf"/sample\?.*seed={seed}(&|$)")):
        same_again.click()
    expect(page.get_by_test_id("sample-button")).to_be_enabled()
    assert shown_names(page, 8) == names

    page.get_by_label("Temperature", exact=True).fill("0.6")  # the same seed under another setting, to compare
    with page.expect_response(re.compile(rf"/sample\?.*temperature=0\.6&seed={seed}(&|$)")):
        same_again.click()
    cooler = api_sample(server, n=8, temperature=0.6, seed=seed)["names"]
    expect(page.get_by_test_id("name").first).to_have_attribute("data-name", cooler[0])
    assert shown_names(page, 8) == cooler != names
    assert page.get_by_label("Seed", exact=True).input_value() == ""  # asked once: it does not stick

    page.get_by_test_id("sample-button").click()
    expect(page.get_by_test_id("shown-seed")).not_to_have_text(seed)
    assert shown_names(page, 8) == api_sample(server, n=8, temperature=0.6, seed=shown_seed(page))["names"]
    assert watched.problems == []


def test_a_typed_seed_sticks_so_generate_repeats_its_names(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 8, seed=4242)
    page.get_by_test_id("sample-button").click()
    expect(page.get_by_test_id("sample-button")).to_be_enabled()
    assert shown_names(page, 8) == names == api_sample(server, n=8, seed=4242)["names"]
    expect(page.get_by_test_id("shown-seed")).to_have_text("4242")
    assert watched.problems == []


def test_a_double_click_on_generate_asks_the_server_once(server: str, watched: WatchedPage) -> None:
    page = watched.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/sample?" in request.url else None)
    page.goto(server)
    page.get_by_label("Names", exact=True).fill("8")
    page.get_by_test_id("sample-button").dblclick()  # the button is disabled from the first click's request on
    names = shown_names(page, 8)
    expect(page.get_by_test_id("sample-button")).to_be_enabled()
    page.wait_for_timeout(300)  # time for a second request, were one (wrongly) sent
    assert len(asked) == 1
    assert names == api_sample(server, n=8, seed=shown_seed(page))["names"]
    assert watched.problems == []


def test_the_latest_request_wins_over_one_still_in_flight(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 8, seed=5)
    held: list[Route] = []
    page.route(re.compile(r"/sample\?"), lambda route: held.append(route) if not held else route.continue_())
    page.get_by_label("Seed", exact=True).fill("")
    page.get_by_test_id("sample-button").click()  # a random seed: its answer is held back
    expect(page.get_by_test_id("sample-button")).to_be_disabled()
    with page.expect_response(re.compile(r"/sample\?.*seed=5")):
        page.get_by_test_id("same-again").click()  # asked while the first is in flight
    expect(page.get_by_test_id("sample-button")).to_be_enabled()
    with contextlib.suppress(PlaywrightError):  # the page has aborted it: there may be nothing to answer
        held[0].continue_()
    page.wait_for_timeout(300)  # time for the older answer to be (wrongly) drawn
    assert shown_names(page, 8) == names
    expect(page.get_by_test_id("shown-seed")).to_have_text("5")
    assert [p for p in watched.problems if "ERR_ABORTED" not in p] == []


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


# ---- phone layout, form errors, the percentile, copying, accessibility ------------------------------------


@pytest.fixture
def open_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., WatchedPage]]:
    """open_page(viewport, **context_options): a fresh watched page; screenshotted and closed at the end."""
    contexts: list[BrowserContext] = []

    def open_(viewport: dict[str, int] = DESKTOP, **options: Any) -> WatchedPage:
        context = browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        return WatchedPage(context.new_page()).watch()

    yield open_
    ARTIFACTS.mkdir(exist_ok=True)
    for index, context in enumerate(contexts):
        for page in context.pages:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{index}.png"), full_page=True)
        context.close()


def fill_settings(page: Page, settings: Mapping[str, str | int | float]) -> None:
    """Each setting into its control, found by its API name (a bool ticks or clears a checkbox); a control in a
    closed group ("Shape", "More settings") is shown first."""
    for name, value in settings.items():
        control = page.locator(f"#{name}")
        if not control.is_visible():
            page.locator(f"details:has(#{name}) > summary").click()
        if isinstance(value, bool):
            control.set_checked(value)
        else:
            control.fill(str(value))


def generate(page: Page, count: int, **settings: str | int | float) -> list[str]:
    """Fill the form (Names, then each setting by its API name) and press Generate; the names shown."""
    page.get_by_label("Names", exact=True).fill(str(count))
    fill_settings(page, settings)
    page.get_by_test_id("sample-button").click()
    return shown_names(page, count)


def name_button(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="name"][data-name="{name}"] .name-button')


def card_geometry(page: Page) -> list[dict[str, Any]]:
    """Each name card's box, whether anything inside it sticks out, and how its name is laid out."""
    geometry: list[dict[str, Any]] = page.evaluate(
        """() => {
        const list = document.getElementById("names").getBoundingClientRect();
        const inside = (r, box) => r.left >= box.left - 0.5 && r.right <= box.right + 0.5
            && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
        return [...document.querySelectorAll("#names > li")].map((li) => {
            const box = li.getBoundingClientRect();
            const parts = li.querySelectorAll(".name-button, .name-text, .badge, .logprob, .distance, .copy-one");
            const text = li.querySelector(".name-text");
            const logprob = li.querySelector(".logprob");
            return {
                name: li.dataset.name,
                novel: li.dataset.novel,
                distance: li.dataset.distance,
                box: {left: box.left, right: box.right, top: box.top, bottom: box.bottom},
                in_list: inside(box, list),
                parts_inside: [...parts].every((part) => inside(part.getBoundingClientRect(), box)),
                overflows: li.scrollWidth > li.clientWidth,
                text_clipped: text.scrollWidth > text.clientWidth + 0.5,
                logprob_clipped: logprob ? logprob.scrollWidth > logprob.clientWidth + 0.5 : false,
                lines: Math.round(text.getBoundingClientRect().height / parseFloat(getComputedStyle(text).lineHeight)),
            };
        });
    }"""
    )
    return geometry


def overlapping(boxes: list[dict[str, float]]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes)
        if i < j
        and a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 0.6, "seed": 11},  # mostly names from the training data: wide KNOWN badges
        {"min_length": 11, "seed": 5},  # long names
        {"similar_to": "christina", "temperature": 0.6, "seed": 11},  # a badge, a distance and log p each
    ],
    ids=["known-badges", "long-names", "distances"],
)
def test_on_a_phone_every_name_card_fits_its_column(
    server: str, open_page: Callable[..., WatchedPage], settings: dict[str, float | int | str]
) -> None:
    watched = open_page(PHONE)
    page = watched.page
    page.goto(server)
    names = generate(page, 24, **settings)
    cards = card_geometry(page)
    assert [card["name"] for card in cards] == names
    if "min_length" in settings:
        assert min(len(name) for name in names) >= 11
    else:
        assert any(card["novel"] == "false" for card in cards), "no KNOWN badge to check"
    if "similar_to" in settings:
        assert all(card["distance"] is not None for card in cards)
    for card in cards:
        assert card["in_list"] and card["parts_inside"] and not card["overflows"], card
        assert not card["text_clipped"] and not card["logprob_clipped"], card
        if len(card["name"]) <= 20:
            assert card["lines"] == 1, card  # never broken mid-word
    assert overlapping([card["box"] for card in cards]) == []
    assert watched.problems == []


def grid_rows(page: Page) -> dict[str, Any]:
    """The name cards row by row ({left, right}), the list's edges and column gap, the number of columns, and
    how many columns each card's name needs to sit on one line."""
    layout: dict[str, Any] = page.evaluate(
        """() => {
        const list = document.getElementById("names");
        const style = getComputedStyle(list);
        const tracks = style.gridTemplateColumns.split(" ").map(parseFloat);
        const gap = parseFloat(style.columnGap);
        const rows = new Map();
        const needs = [];
        for (const li of list.children) {
            const box = li.getBoundingClientRect();
            const text = li.querySelector(".name-text");
            const range = document.createRange();
            range.selectNodeContents(text);
            const textStyle = getComputedStyle(text);
            const room = text.clientWidth - parseFloat(textStyle.paddingLeft) - parseFloat(textStyle.paddingRight);
            const needed = range.getBoundingClientRect().width + (box.width - room);
            let columns = 1;
            while (columns < tracks.length && columns * tracks[0] + (columns - 1) * gap < needed - 0.5) columns++;
            needs.push(columns);
            const top = Math.round(box.top);
            rows.set(top, [...(rows.get(top) || []), {left: box.left, right: box.right}]);
        }
        const edges = list.getBoundingClientRect();
        return {left: edges.left, right: edges.right, gap, columns: tracks.length, needs, rows: [...rows.values()]};
    }"""
    )
    return layout


def would_leave_a_hole(needs: list[int], columns: int) -> bool:
    """Whether cards each as wide as its name needs, laid in order, leave a row short: a card too wide for
    what is left of its row starts the next one."""
    used = 0
    for span in needs:
        if used + span > columns:
            return True
        used = (used + span) % columns
    return False


@pytest.mark.parametrize(
    ("viewport", "settings"),
    [("phone", {"min_length": 8, "seed": 1}), ("desktop", {"min_length": 11, "seed": 5})],
    ids=["phone", "desktop"],
)
def test_a_long_name_taking_a_row_leaves_no_hole_in_the_grid(
    server: str, open_page: Callable[..., WatchedPage], viewport: str, settings: dict[str, int]
) -> None:
    watched = open_page(VIEWPORTS[viewport])
    page = watched.page
    page.goto(server)
    names = generate(page, 24, **settings)
    assert names == api_sample(server, n=24, **settings)["names"]  # in the API's order
    layout = grid_rows(page)
    assert layout["columns"] >= 2
    assert would_leave_a_hole(layout["needs"], layout["columns"]), "no hole to close here: pick other settings"
    for row in layout["rows"][:-1]:  # every row but the last is full: it starts and ends at the list's edges
        assert abs(row[0]["left"] - layout["left"]) < 1 and abs(row[-1]["right"] - layout["right"]) < 1, row
        for before, after in itertools.pairwise(row):
            assert abs(after["left"] - before["right"] - layout["gap"]) < 1, row
    assert watched.problems == []


def test_on_a_phone_generate_brings_the_names_into_view(server: str, open_page: Callable[..., WatchedPage]) -> None:
    watched = open_page(PHONE)
    page = watched.page
    page.goto(server)
    assert page.get_by_test_id("sample-button").bounding_box()["y"] > PHONE["height"] / 2  # type: ignore[index]
    names = generate(page, 12, seed=7)
    expect(page.locator("#sample-status")).to_be_in_viewport(ratio=1)
    expect(name_button(page, names[0])).to_be_in_viewport(ratio=1)
    assert watched.problems == []


def test_on_a_phone_choosing_a_name_scores_it_in_view_and_marks_it(
    server: str, open_page: Callable[..., WatchedPage]
) -> None:
    watched = open_page(PHONE)
    page = watched.page
    page.goto(server)
    names = generate(page, 12, seed=7)
    chosen = names[3]
    name_button(page, chosen).click()

    strip = page.locator(f'[data-testid="score-chars"][data-text="{chosen}"]')
    expect(strip).to_be_in_viewport(ratio=1)
    expect(page.get_by_test_id("score-verdict")).to_be_in_viewport(ratio=1)
    pressed = [name_button(page, name).get_attribute("aria-pressed") for name in names]
    assert pressed == ["true" if name == chosen else "false" for name in names]

    page.get_by_role("button", name="Back to the names").click()
    expect(name_button(page, chosen)).to_be_in_viewport(ratio=1)
    expect(name_button(page, chosen)).to_be_focused()
    assert watched.problems == []


def test_on_a_desktop_choosing_a_name_scores_it_beside_the_list_without_scrolling(
    server: str, open_page: Callable[..., WatchedPage]
) -> None:
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    names = generate(page, 12, seed=7)
    scroll_before = page.evaluate("window.scrollY")
    name_button(page, names[5]).click()
    expect(page.locator(f'[data-testid="score-chars"][data-text="{names[5]}"]')).to_be_in_viewport(ratio=1)
    expect(name_button(page, names[5])).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.scrollY") == scroll_before
    expect(page.get_by_role("button", name="Back to the names")).to_be_hidden()  # nothing to go back to
    assert watched.problems == []


def expected_percentile_text(percentile: float) -> str:
    if percentile >= 100:
        return "More name-like than every real name it was compared with"
    if percentile <= 0:
        return "Less name-like than every real name it was compared with"
    return f"More name-like than {min(max(round(percentile), 1), 99)}% of real names"


@pytest.mark.parametrize("text", ["olivia", "xqzt"])
def test_the_score_says_where_the_name_stands_among_real_names(
    server: str, open_page: Callable[..., WatchedPage], text: str
) -> None:
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    page.get_by_test_id("score-examples").get_by_role("button", name=text, exact=True).click()
    expect(page.locator(f'[data-testid="score-chars"][data-text="{text}"] [data-loss]')).to_have_count(len(text) + 1)
    assert page.get_by_test_id("score-input").input_value() == text

    api = httpx.post(f"{server}/score", json={"text": text}).json()
    assert isinstance(api["percentile"], float) and 0 <= api["percentile"] <= 100
    shown = page.get_by_test_id("score-percentile")
    expect(shown).to_have_text(expected_percentile_text(api["percentile"]))
    assert float(str(shown.get_attribute("data-percentile"))) == api["percentile"]
    assert watched.problems == []


def test_a_setting_the_server_rejects_is_marked_on_its_field_and_the_names_stay(
    server: str, open_page: Callable[..., WatchedPage]
) -> None:
    rejected = httpx.get(f"{server}/sample", params={"n": 5000})
    assert rejected.status_code == 422  # the limit is the server's (max_n), not the page's

    watched = open_page(PHONE)
    page = watched.page
    page.goto(server)
    names = generate(page, 6, seed=3)
    url = page.url
    page.get_by_label("Names", exact=True).fill("5000")
    page.get_by_test_id("sample-button").click()

    field = page.get_by_label("Names", exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    message = page.locator("#n-error")
    expect(message).to_contain_text("1000")
    expect(page.get_by_test_id("sample-error")).to_contain_text(message.inner_text())
    for text in (message.inner_text(), page.get_by_test_id("sample-error").inner_text()):
        assert "Names" in text
        assert re.search(r"\b(n|max_n)\b", text) is None, text  # no API names
    assert str(field.get_attribute("aria-describedby")).split()[0] == "n-error"
    assert shown_names(page, 6) == names  # the previous names stay, with their link
    expect(page.get_by_test_id("copy-link")).to_be_visible()
    assert page.url == url
    # The browser logs the 422 itself; nothing else went wrong.
    assert [p for p in watched.problems if "422" not in p] == []
    assert len(watched.problems) == 2 and any("/sample" in p for p in watched.problems)


# A bad setting, the field it is about, and the sentence the page says about it, whether the page's own check
# or the server's 422 finds it: one vocabulary, the labels on screen, never the API's parameter names.
BAD_SETTINGS = [
    ({"temperature": "0"}, "temperature", "Temperature must be a number above 0, such as 0.8."),
    ({"min_length": "10", "max_length": "3"}, "min_length", "Min length (10) can't be more than Max length (3)."),
    ({"top_p": "1.5"}, "top_p", "Top-p must be a number above 0 and at most 1, or empty for off."),
    ({"top_k": "2000000"}, "top_k", "Top-k must be a whole number from 1 to 1000000, or empty for off."),
    ({"prefix": "m4r"}, "prefix", "Starts with can only use the letters a to z, not “4”."),
    ({"prefix": "ab\u200b"}, "prefix", "Starts with can only use the letters a to z, not U+200B."),
    ({"suffix": "s4n"}, "suffix", "Ends with can only use the letters a to z, not “4”."),
    ({"excludes": "q-z"}, "excludes", "Avoid letters can only use the letters a to z, not “-”."),
    ({"similar_to": "m@ria"}, "similar_to", "Like this name can only use the letters a to z, not “@”."),
]
BAD_SETTING_IDS = [
    "temperature-0",
    "min-over-max",
    "top-p",
    "top-k",
    "prefix-character",
    "prefix-invisible",
    "suffix-character",
    "excludes-character",
    "similar-to-character",
]
# The API's parameter names, pydantic's phrasing, a Python repr ('x'): none of them reaches the page.
API_WORDS = re.compile(r"\b(n|temperature|top_k|top_p|min_length|max_length|prefix|text|max_n|Input should)\b|'[^' ]*'")


def skip_unless_a_to_z(server: str, message: str) -> None:
    vocab = httpx.get(f"{server}/model").json()["vocab"]
    if "letters a to z" in message and "".join(vocab[1:]) != "abcdefghijklmnopqrstuvwxyz":
        pytest.skip("the message names the vocabulary; this one is not a to z")


@pytest.mark.parametrize(("fill", "field", "message"), BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_a_bad_setting_is_caught_on_the_page_marked_focused_and_worded_with_its_label(
    server: str, open_page: Callable[..., WatchedPage], fill: dict[str, str], field: str, message: str
) -> None:
    skip_unless_a_to_z(server, message)
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    names = generate(page, 6, seed=3)
    sample_requests: list[str] = []
    page.on("request", lambda request: sample_requests.append(request.url) if "/sample" in request.url else None)
    fill_settings(page, fill)
    page.get_by_test_id("sample-button").click()

    control = page.locator(f"#{field}")
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_be_focused()
    expect(page.locator(f"#{field}-error")).to_have_text(message)
    expect(page.get_by_test_id("sample-error")).to_contain_text(message)
    assert shown_names(page, 6) == names
    assert sample_requests == []  # caught before asking the server
    control.fill("")  # editing the field clears its mark
    expect(control).not_to_have_attribute("aria-invalid", "true")
    assert watched.problems == []


@pytest.mark.parametrize(("fill", "field", "message"), BAD_SETTINGS, ids=BAD_SETTING_IDS)
def test_the_servers_422_for_a_bad_setting_is_worded_as_the_page_words_it(
    server: str, open_page: Callable[..., WatchedPage], fill: dict[str, str], field: str, message: str
) -> None:
    """The server's own answer to the bad setting, handed to a page whose form is fine (so that its check
    passes): the same sentence on the same field."""
    skip_unless_a_to_z(server, message)
    refused = httpx.get(f"{server}/sample", params={"n": 6, **fill})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][1] == field
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    names = generate(page, 6, seed=3)
    page.route(re.compile(r"/sample\?"), lambda route: route.fulfill(status=422, json=refused.json()))
    page.get_by_test_id("sample-button").click()

    control = page.locator(f"#{field}")
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_be_focused()  # inside its group (Shape, More settings), which opens
    expect(page.locator(f"#{field}-error")).to_have_text(message)
    expect(page.get_by_test_id("sample-error")).to_have_text(
        f"Nothing generated. {message} The names below are from your previous settings."
    )
    assert API_WORDS.search(page.get_by_test_id("sample-error").inner_text()) is None
    assert shown_names(page, 6) == names
    assert [p for p in watched.problems if "422" not in p] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("em4a", "Name can only use the letters a to z, not “4”."),
        ("\U0001f642 x", "Name can only use the letters a to z, not “\U0001f642”, a space."),
        ("a" * 65, "Name is too long: 65 characters, at most 64."),
        ("a" * 300, "Name is too long: 300 characters, at most 64."),  # past the cap on text as sent
    ],
    ids=["digit", "emoji-and-space", "too-long", "far-too-long"],
)
def test_a_name_the_server_cannot_score_is_said_in_the_pages_words_and_marks_the_box(
    server: str, open_page: Callable[..., WatchedPage], text: str, message: str
) -> None:
    skip_unless_a_to_z(server, message)
    refused = httpx.post(f"{server}/score", json={"text": text})
    assert refused.status_code == 422  # the page sends it as typed: the server's answer is what is worded
    if "too long" in message:
        assert "64" in refused.json()["detail"][0]["msg"], "the limit changed: change this message"
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    page.get_by_test_id("score-input").fill(text)
    page.get_by_test_id("score-input").press("Enter")
    expect(page.get_by_test_id("score-input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#score-error")).to_have_text(message)
    expect(page.locator("#score-result")).to_be_hidden()


# What the server may answer instead of a result, and how the page says it: the same sentence for every control.
REFUSALS: dict[str, tuple[dict[str, Any] | None, str]] = {
    "busy": (
        {"status": 503, "headers": {"Retry-After": "1"}, "json": {"detail": "server busy: retry in 1 s"}},
        "The server is busy. Try again in 1 s.",
    ),
    "crash": (
        {"status": 500, "json": {"detail": "internal server error", "request_id": "c0ffee"}},
        "Something went wrong on the server (request c0ffee). Try again; if it keeps happening, tell whoever runs it.",
    ),
    "proxy": (
        {"status": 502, "content_type": "text/html", "body": "<h1>502 Bad Gateway</h1>"},
        "The server could not answer (502 Bad Gateway). Try again in a moment.",
    ),
    "unreachable": (None, "Could not reach the server. Check the connection, then try again."),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_every_control_says_a_refusal_in_the_same_words(
    server: str, open_page: Callable[..., WatchedPage], kind: str
) -> None:
    answer, message = REFUSALS[kind]
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    chart_for(page, "")

    def refuse(route: Route) -> None:
        if answer is None:
            route.abort("connectionrefused")
        else:
            route.fulfill(**answer)

    page.route(re.compile(r"/(sample|score|next|model)(\?|$)"), refuse)
    choose_model(page, OTHER_MODEL)  # the model panel asks GET /model
    expect(page.locator("#model-error")).to_have_text(f"Could not load the model's details. {message}")
    page.get_by_test_id("score-input").press_sequentially("em")  # the chart, then the live score
    expect(page.get_by_test_id("next-message")).to_have_text(f"No chart. {message}")
    expect(page.locator("#score-error")).to_have_text(message)
    page.get_by_test_id("sample-button").click()
    expect(page.get_by_test_id("sample-error")).to_have_text(f"Nothing generated. {message}")
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)  # about the server, not a field
    assert [p for p in watched.problems if p.startswith("uncaught")] == []


def test_copy_one_name_copy_all_and_download_them_as_csv(server: str, open_page: Callable[..., WatchedPage]) -> None:
    watched = open_page(DESKTOP, permissions=["clipboard-read", "clipboard-write"], accept_downloads=True)
    page = watched.page
    page.goto(server)
    names = generate(page, 5, seed=99)
    expected = api_sample(server, n=5, seed=99)
    assert names == expected["names"]

    page.get_by_role("button", name=f"Copy {names[1]}", exact=True).click()
    expect(page.locator("#copy-status")).to_have_text(f"Copied “{names[1]}”.")
    assert page.evaluate("navigator.clipboard.readText()") == names[1]

    page.get_by_test_id("copy-all").click()
    expect(page.locator("#copy-status")).to_have_text("Copied 5 names, one per line.")
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(names) + "\n"

    with page.expect_download() as download_info:
        page.get_by_test_id("download-csv").click()
    download = download_info.value
    assert download.suggested_filename == "namegen-seed-99.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [(r["name"], r["novel"], float(r["log_prob"])) for r in rows] == [
        (s["name"], str(s["novel"]).lower(), s["log_prob"]) for s in expected["samples"]
    ]
    # The sampler's own log-probability of each name too; no name to be like, so no distance.
    assert [(float(r["constrained_log_prob"]), r["distance"]) for r in rows] == [
        (s["constrained_log_prob"], "") for s in expected["samples"]
    ]
    assert watched.problems == []


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colours."""

    def luminance(colour: str) -> float:
        channels = [float(x) / 255 for x in re.findall(r"[\d.]+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_keyboard_focus_ring_has_3_to_1_contrast_with_the_card(
    server: str, open_page: Callable[..., WatchedPage], scheme: str
) -> None:
    watched = open_page(DESKTOP, color_scheme=scheme)
    page = watched.page
    page.goto(server)
    page.get_by_label("Names", exact=True).focus()
    page.keyboard.press("Shift+Tab")  # keyboard focus: :focus-visible
    page.keyboard.press("Tab")
    ring, card = page.evaluate(
        """() => [getComputedStyle(document.activeElement).outlineColor,
                  getComputedStyle(document.activeElement.closest(".card")).backgroundColor]"""
    )
    assert contrast(ring, card) >= 3, (ring, card)


def test_each_name_buttons_accessible_name_starts_with_its_visible_text(
    server: str, open_page: Callable[..., WatchedPage]
) -> None:
    """The name, its badge and its log p, as shown: no aria-label that hides them (label-content-name-mismatch)."""
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    names = generate(page, 6, seed=4)
    samples = api_sample(server, n=6, seed=4)["samples"]
    assert names == [s["name"] for s in samples]
    for sample in samples:
        badge = "new" if sample["novel"] else "known"
        log_p = f"{sample['log_prob']:.1f}".replace("-", "−")
        accessible_name = re.compile(rf"^{sample['name']} {badge} log p {log_p}$", re.IGNORECASE)
        expect(page.get_by_role("button", name=accessible_name)).to_have_count(names.count(sample["name"]))
    assert page.locator("#names .name-button[aria-label]").count() == 0
    assert watched.problems == []


# ---- constrained generation: ends with, contains, avoid letters, pattern, like this name, exact odds -------


def test_names_for_a_seed_with_a_suffix_are_the_apis_and_each_ends_with_it(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 12, seed=2026, suffix="son")
    assert names == api_sample(server, n=12, seed=2026, suffix="son")["names"]
    assert all(name.endswith("son") for name in names)
    assert parse_qs(urlsplit(page.url).query)["suffix"] == ["son"]
    expect(page.locator("#legend-steered")).to_be_visible()  # how steering changes the odds, in words
    assert watched.problems == []


def test_every_name_shown_meets_every_shape_setting_and_is_the_apis(server: str, watched: WatchedPage) -> None:
    settings = {"prefix": "a", "suffix": "n", "contains": "r", "excludes": "eiy", "pattern": "[a-m]+[aeiou][a-z]*"}
    page = watched.page
    page.goto(server)
    names = generate(page, 10, seed=31, **settings)
    assert names == api_sample(server, n=10, seed=31, **settings)["names"]
    for name in names:
        assert name.startswith("a") and name.endswith("n") and "r" in name and not set(name) & set("eiy"), name
        assert re.fullmatch(settings["pattern"], name), name
    assert watched.problems == []


def test_a_link_with_shape_settings_restores_them_and_shows_the_same_names(
    server: str, browser: Browser, watched: WatchedPage
) -> None:
    settings = {"suffix": "a", "contains": "ri", "excludes": "qxz", "pattern": "[aeiou].*", "similar_to": "maria"}
    first = watched.page
    first.goto(server)
    names = generate(first, 8, **settings)  # no seed typed: the server picks one, and the link carries it
    shared_url = first.url
    query = {key: values[0] for key, values in parse_qs(urlsplit(shared_url).query).items()}
    assert {key: query[key] for key in settings} == settings

    other = WatchedPage(browser.new_page(viewport={"width": 1280, "height": 900})).watch()
    other.page.goto(shared_url)
    assert shown_names(other.page, 8) == names == api_sample(server, **query)["names"]
    for name, value in settings.items():
        assert other.page.locator(f"#{name}").input_value() == value, name
    other.page.close()
    assert watched.problems == [] and other.problems == []


def test_a_pattern_is_sent_as_typed_so_the_servers_positions_are_the_users(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    fill_settings(page, {"pattern": " (a"})  # unbalanced; the leading space is part of what was typed
    with page.expect_response(re.compile(r"/sample\?")) as answer:
        page.get_by_test_id("sample-button").click()
    assert parse_qs(urlsplit(answer.value.url).query)["pattern"] == [" (a"]
    expect(page.locator("#pattern-error")).to_have_text(
        "Pattern is not a valid regular expression: missing ), unterminated subpattern (at character 2)."
    )
    assert [p for p in watched.problems if "422" not in p] == []


def test_names_like_a_given_one_show_their_distance_closest_first_and_how_many_were_drawn(
    server: str, watched: WatchedPage
) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 8, seed=11, similar_to="maria")
    expected = api_sample(server, n=8, seed=11, similar_to="maria")
    assert names == expected["names"]
    cards = page.get_by_test_id("name").all()
    distances = [int(str(card.get_attribute("data-distance"))) for card in cards]
    assert distances == [s["distance"] for s in expected["samples"]] == sorted(distances)
    shown = [card.locator(".distance").inner_text() for card in cards]
    assert shown == [f"{d} edit" if d == 1 else f"{d} edits" for d in distances]
    expect(page.locator("#sample-status")).to_contain_text(f"The 8 closest to “maria” of {expected['drawn']:,} drawn.")
    expect(page.locator("#legend-distance")).to_be_visible()
    assert watched.problems == []


def test_exact_odds_resamples_the_apis_names_and_says_from_how_many_draws(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 6, seed=8, suffix="son", exact=True)
    expected = api_sample(server, n=6, seed=8, suffix="son", exact="true")
    assert names == expected["names"]
    assert parse_qs(urlsplit(page.url).query)["exact"] == ["true"]
    worth = math.floor(expected["effective_sample_size"] + 0.5)
    expect(page.locator("#sample-status")).to_contain_text(
        f"Chosen from {expected['drawn']:,} drawn in proportion to the model's own odds "
        f"(worth about {worth:,} independent draws)."
    )
    expect(page.locator("#legend-steered")).to_be_hidden()  # resampled: not steered any more
    assert watched.problems == []


def test_a_constraint_met_by_fewer_names_than_asked_says_how_many_were_found_and_drawn(
    server: str, watched: WatchedPage
) -> None:
    settings: dict[str, str | int | float] = {"suffix": "xyz", "max_length": 4, "unique": True}
    expected = api_sample(server, n=40, seed=1, suffix="xyz", max_length=4, unique="true")
    assert 0 < expected["returned"] < 40
    page = watched.page
    page.goto(server)
    page.get_by_label("Names", exact=True).fill("40")
    fill_settings(page, {"seed": 1, **settings})
    page.get_by_test_id("sample-button").click()
    assert shown_names(page, expected["returned"]) == expected["names"]
    expect(page.locator("#sample-status")).to_have_text(
        f"Found only {expected['returned']} of 40 names that fit these settings (Ends with “xyz”, Max length 4, "
        f"No repeats) among {expected['drawn']:,} drawn: loosen them, or ask for fewer."
    )
    assert watched.problems == []


def test_a_link_value_no_control_can_hold_is_named_and_the_rest_used(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(f"{server}/?n=4&seed=3&top_k=abc&exact=maybe&suffix=ly")
    assert shown_names(page, 4) == api_sample(server, n=4, seed=3, suffix="ly")["names"]
    expect(page.locator("#sample-status")).to_contain_text(
        "Left out Top-k “abc”, Exact odds “maybe” from the link: not a value this form takes."
    )
    expect(page.get_by_label("Exact odds")).not_to_be_checked()
    assert watched.problems == []


# Settings no name can meet, or that the server cannot read: the field the server names, and the page's sentence.
IMPOSSIBLE: dict[str, tuple[dict[str, str | bool], str, str]] = {
    "prefix-and-suffix-too-long": (
        {"prefix": "ka", "suffix": "son", "max_length": "4"},
        "suffix",
        "No name of 1 to 4 characters starts with “ka” and ends with “son”: these can't all hold together.",
    ),
    "bad-regex": (
        {"pattern": "[a-z"},
        "pattern",
        "Pattern is not a valid regular expression: unterminated character set (at character 1).",
    ),
    "backreference": (
        {"pattern": "(a)\\1"},
        "pattern",
        "Pattern uses backreferences at character 4, which a name cannot be checked against letter by letter: no "
        "backreferences, lookaround, anchors inside, atomic groups, possessive quantifiers or conditionals.",
    ),
    "pattern-outside-the-alphabet": (
        {"pattern": "Mar.*"},
        "pattern",
        "Pattern matches no name of 1 to 32 characters made of the letters a to z: no name has “M”. It is "
        "case-sensitive: write it as the names are written, or start it with (?i).",
    ),
    "avoid-what-the-suffix-needs": (
        {"suffix": "son", "excludes": "os"},
        "excludes",
        "Avoid letters can't include “o”, “s”: Ends with “son” needs them.",
    ),
    "avoid-every-letter": (
        {"excludes": "abcdefghijklmnopqrstuvwxyz"},
        "excludes",
        "Avoid letters leaves no name of 1 to 32 characters possible.",
    ),
    "exact-with-top-k": (
        {"top_k": "5", "exact": True},
        "exact",
        "Exact odds can't be combined with Top-k or Top-p: clear them first.",
    ),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE))
def test_an_impossible_or_unreadable_shape_is_the_servers_422_said_on_its_field(
    server: str, open_page: Callable[..., WatchedPage], case: str
) -> None:
    settings, field, message = IMPOSSIBLE[case]
    skip_unless_a_to_z(server, message)
    query = {name: "true" if value is True else value for name, value in settings.items()}
    refused = httpx.get(f"{server}/sample", params={"n": 6, **query})
    assert refused.status_code == 422 and [p["loc"][1] for p in refused.json()["detail"]] == [field]
    watched = open_page(DESKTOP)
    page = watched.page
    page.goto(server)
    names = generate(page, 6, seed=3)
    fill_settings(page, settings)
    page.get_by_test_id("sample-button").click()

    control = page.locator(f"#{field}")
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_be_focused()
    expect(page.locator(f"#{field}-error")).to_have_text(message)
    expect(page.get_by_test_id("sample-error")).to_have_text(
        f"Nothing generated. {message} The names below are from your previous settings."
    )
    assert shown_names(page, 6) == names
    assert [p for p in watched.problems if "422" not in p] == []


@pytest.mark.parametrize("width", [390, 1280])
def test_the_generate_form_with_every_setting_and_its_errors_fits_its_card(
    server: str, open_page: Callable[..., WatchedPage], width: int
) -> None:
    """Every control filled from a link, four of them marked by the page's own check: each field, message and
    checkbox stays inside the card, none overlaps another, and the page never scrolls sideways."""
    watched = open_page({"width": width, "height": 900})
    page = watched.page
    page.goto(
        f"{server}/?n=6&prefix=ma&suffix=s4n&contains=e4&excludes=q1&pattern=[aeiou].*&similar_to=m4ria"
        "&min_length=3&max_length=12&top_k=20&unique=true&exact=true"
    )
    for param in ("suffix", "contains", "excludes", "similar_to"):
        expect(page.locator(f"#{param}-error")).to_be_visible()
    layout: dict[str, Any] = page.evaluate(
        """() => {
        const box = (element) => {
            const r = element.getBoundingClientRect();
            return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
        };
        const shown = (selector) => [...document.querySelectorAll(selector)].filter((e) => e.offsetParent !== null);
        return {
            card: box(document.getElementById("sample-form").closest(".card")),
            fields: shown("#sample-form .field, #sample-form .check").map(box),
            parts: shown("#sample-form input, #sample-form .hint, #sample-form .field-error").map((e) => ({
                id: e.id, box: box(e), clipped: e.scrollWidth > e.clientWidth + 0.5 && e.tagName !== "INPUT",
            })),
            page_width: document.documentElement.scrollWidth,
            viewport: window.innerWidth,
        };
    }"""
    )
    assert layout["page_width"] == layout["viewport"] == width
    card = layout["card"]
    assert len(layout["fields"]) >= 14
    for part in layout["parts"]:
        assert card["left"] <= part["box"]["left"] and part["box"]["right"] <= card["right"], part
        assert not part["clipped"], part
    assert overlapping(layout["fields"]) == []
    assert watched.problems == []


# ---- the model picker, and what the model expects next ----------------------------------------------------


OTHER_MODEL = "lecture-mlp"  # served beside the default (names-mlp) by the shipped model_artifacts/


def api_models(server: str) -> dict[str, Any]:
    response = httpx.get(f"{server}/models")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert OTHER_MODEL in [m["name"] for m in body["models"]], "these tests need the lecture-mlp artifact"
    return body


def api_next(server: str, prefix: str, **params: str | int) -> dict[str, Any]:
    response = httpx.get(f"{server}/next", params={"prefix": prefix, "top": 8, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def model_picker(page: Page) -> Locator:
    return page.get_by_label("Model", exact=True)


def choose_model(page: Page, name: str) -> None:
    model_picker(page).select_option(name)  # waits for GET /models to have filled it
    expect(model_picker(page)).to_have_value(name)


def percent_text(prob: float) -> str:
    """A bar's percentage as the chart writes it: whole from 10% up, one decimal below, "<0.1%" under that."""
    percent = prob * 100
    if percent < 0.05:
        return "<0.1%"
    return f"{percent:.0f}%" if percent >= 9.95 else f"{percent:.1f}%"


def chart_for(page: Page, prefix: str) -> Locator:
    chart = page.locator(f'[data-testid="next-chart"][data-state="chart"][data-prefix="{prefix}"]')
    expect(chart).to_be_visible()
    return chart


def shown_chart(chart: Locator) -> list[tuple[str, str, str, str]]:
    """Each bar: (its character, its label, its percentage, what a screen reader reads), most likely first."""
    items = chart.get_by_role("listitem")
    return [
        (
            str(item.get_attribute("data-char")),
            item.locator(".next-char").inner_text(),
            item.locator(".next-percent").inner_text(),
            " ".join(str(item.text_content()).split()),
        )
        for item in items.all()
    ]


def expected_chart(next_chars: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows = []
    for entry in next_chars:
        label = "end" if entry["char"] == "." else entry["char"]
        rows.append((entry["char"], label, percent_text(entry["prob"]), f"{label} {percent_text(entry['prob'])}"))
    return rows


def test_the_model_picker_lists_every_served_model_with_the_default_chosen(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    listed = api_models(server)
    picker = model_picker(page)
    expect(picker).to_be_enabled()
    options = picker.locator("option")
    expect(options).to_have_count(len(listed["models"]))
    assert [o.get_attribute("value") for o in options.all()] == [m["name"] for m in listed["models"]]
    assert [o.inner_text() for o in options.all()] == [m["name"] for m in listed["models"]]
    expect(picker).to_have_value(listed["default"])
    expect(page.locator("#model-name")).to_have_text(listed["default"])  # the model panel is the default's
    assert watched.problems == []


# Room Chromium keeps for a <select>'s drop-down arrow, right of its text (about 20 px at 16 px text).
SELECT_ARROW_PX = 24


@pytest.mark.parametrize("width", [390, 1280])
def test_the_model_picker_names_the_chosen_model_once_and_in_full(
    server: str, open_page: Callable[..., WatchedPage], width: int
) -> None:
    watched = open_page({"width": width, "height": 900})
    page = watched.page
    page.goto(server)
    picker = model_picker(page)
    for model in api_models(server)["models"]:
        choose_model(page, model["name"])
        shown: dict[str, Any] = picker.evaluate(
            """(select) => {
            const style = getComputedStyle(select);
            const context = document.createElement("canvas").getContext("2d");
            context.font = style.font;
            const box = select.getBoundingClientRect();
            return {
                text: select.selectedOptions[0].textContent,
                text_width: context.measureText(select.selectedOptions[0].textContent).width,
                room: select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
                left: box.left, right: box.right, viewport: window.innerWidth,
                page_width: document.documentElement.scrollWidth,
            };
        }"""
        )
        assert shown["text"] == model["name"]  # once: what sets the models apart is in the line below
        assert shown["text_width"] + SELECT_ARROW_PX <= shown["room"], shown  # in full, beside the arrow
        assert shown["left"] >= 0 and shown["right"] <= shown["viewport"] == shown["page_width"], shown
        hint = page.locator("#model-hint")
        expect(hint).to_contain_text(f"dev loss {model['dev_loss']:.3f}")
        expect(hint).to_contain_text(model["dataset"]["name"])
    assert watched.problems == []


def test_choosing_lecture_mlp_generates_exactly_its_names_for_the_seed(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    choose_model(page, OTHER_MODEL)
    names = generate(page, 10, seed=424242)

    expected = api_sample(server, model=OTHER_MODEL, n=10, seed=424242)
    assert expected["model"] == OTHER_MODEL
    assert names == expected["names"]
    assert names != api_sample(server, n=10, seed=424242)["names"]  # the default model's differ
    expect(page.get_by_test_id("names")).to_have_attribute("data-model", OTHER_MODEL)
    expect(page.locator("#sample-status")).to_contain_text(f"from {OTHER_MODEL}")
    assert parse_qs(urlsplit(page.url).query)["model"] == [OTHER_MODEL]
    assert watched.problems == []


def test_a_shared_url_with_a_model_selects_it_and_reproduces_its_names(
    server: str, browser: Browser, watched: WatchedPage
) -> None:
    first = watched.page
    first.goto(server)
    choose_model(first, OTHER_MODEL)
    names = generate(first, 7, seed=31337)
    shared_url = first.url
    assert f"model={OTHER_MODEL}" in shared_url

    other = WatchedPage(browser.new_page(viewport={"width": 1280, "height": 900})).watch()
    other.page.goto(shared_url)
    expect(model_picker(other.page)).to_have_value(OTHER_MODEL)
    assert shown_names(other.page, 7) == names == api_sample(server, model=OTHER_MODEL, n=7, seed=31337)["names"]
    expect(other.page.get_by_test_id("names")).to_have_attribute("data-model", OTHER_MODEL)
    expect(other.page.locator("#model-name")).to_have_text(OTHER_MODEL)
    other.page.close()
    assert watched.problems == [] and other.problems == []


def test_an_unknown_model_in_the_url_is_named_and_the_default_used_instead(server: str, watched: WatchedPage) -> None:
    listed = api_models(server)
    refused = httpx.get(f"{server}/sample", params={"model": "no-such-model", "n": 5})
    assert refused.status_code == 404 and "no-such-model" in refused.json()["detail"]
    page = watched.page
    page.goto(f"{server}/?model=no-such-model&n=5&seed=3")

    notice = page.get_by_test_id("model-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("“no-such-model”")
    for name in refused.json()["models"]:  # the models the server's own 404 lists
        expect(notice).to_contain_text(name)
    expect(notice).to_contain_text(f"Showing {listed['default']}")
    expect(model_picker(page)).to_have_value(listed["default"])
    assert shown_names(page, 5) == api_sample(server, n=5, seed=3)["names"]
    assert parse_qs(urlsplit(page.url).query)["model"] == [listed["default"]]
    assert watched.problems == []  # nothing was asked of the missing model


def test_a_model_the_server_no_longer_has_is_reported_in_its_words_and_the_default_used(
    server: str, watched: WatchedPage
) -> None:
    """A server restarted without the chosen model: its 404 says so, the page falls back and generates."""
    default = api_models(server)["default"]
    page = watched.page
    page.goto(server)
    choose_model(page, OTHER_MODEL)
    gone = {"detail": f"unknown model '{OTHER_MODEL}'; the models are: {default}", "models": [default]}
    page.route(re.compile(rf"/sample\?model={OTHER_MODEL}&"), lambda route: route.fulfill(status=404, json=gone))
    names = generate(page, 6, seed=12)

    assert names == api_sample(server, n=6, seed=12)["names"]
    notice = page.get_by_test_id("model-notice")
    expect(notice).to_have_text(
        f"The server no longer has the model “{OTHER_MODEL}” (it has {default}). Showing {default} instead."
    )
    expect(model_picker(page)).to_have_value(default)
    expect(page.get_by_test_id("names")).to_have_attribute("data-model", default)
    assert [p for p in watched.problems if "404" not in p] == []  # the browser logs the 404 itself


def test_changing_the_model_replaces_the_names_and_the_score_with_the_new_models(
    server: str, watched: WatchedPage
) -> None:
    page = watched.page
    page.goto(server)
    names = generate(page, 8, seed=7)
    name_button(page, names[0]).click()
    expect(page.locator(f'[data-testid="score-chars"][data-text="{names[0]}"]')).to_have_attribute(
        "data-model", "names-mlp"
    )

    choose_model(page, OTHER_MODEL)
    expect(page.get_by_test_id("names")).to_have_attribute("data-model", OTHER_MODEL)
    assert shown_names(page, 8) == api_sample(server, model=OTHER_MODEL, n=8, temperature=1, seed=7)["names"]
    strip = page.locator(f'[data-testid="score-chars"][data-text="{names[0]}"][data-model="{OTHER_MODEL}"]')
    expect(strip.locator("[data-loss]")).to_have_count(len(names[0]) + 1)
    scored = httpx.post(f"{server}/score", json={"text": names[0], "model": OTHER_MODEL}).json()
    assert [float(str(c.get_attribute("data-loss"))) for c in strip.locator("[data-loss]").all()] == [
        p["loss"] for p in scored["chars"]
    ]
    expect(page.get_by_test_id("score-by")).to_have_text(f"Scored by {OTHER_MODEL}")
    expect(page.locator("#model-name")).to_have_text(OTHER_MODEL)
    meta = httpx.get(f"{server}/model", params={"model": OTHER_MODEL}).json()
    expect(page.locator("#model-facts")).to_contain_text(f"{meta['parameters']:,}")  # the panel follows
    assert parse_qs(urlsplit(page.url).query)["model"] == [OTHER_MODEL]
    assert watched.problems == []


def test_the_model_panel_shows_the_chosen_models_facts_and_plots(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    choose_model(page, OTHER_MODEL)
    meta = httpx.get(f"{server}/model", params={"model": OTHER_MODEL}).json()
    assert meta["parameters"] != httpx.get(f"{server}/model").json()["parameters"]
    expect(page.locator("#model-name")).to_have_text(OTHER_MODEL)
    facts = page.locator("#model-facts")
    expect(facts).to_contain_text(f"{meta['parameters']:,}")
    expect(facts).to_contain_text(f"{meta['block_size']} chars")
    expect(facts).to_contain_text(f"{meta['dev_loss']:.3f}")
    available = httpx.get(f"{server}/model/plots", params={"model": OTHER_MODEL}).json()["available"]
    for kind in available:
        figure = page.locator(f"#plot-{kind}")
        expect(figure).to_be_visible()
        assert f"model={OTHER_MODEL}" in str(figure.locator("img").get_attribute("src"))
        assert figure.locator("img").evaluate("img => img.naturalWidth") > 0
    assert watched.problems == []


def test_typing_in_the_score_box_charts_the_likeliest_next_characters(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    box = page.get_by_test_id("score-input")
    box.press_sequentially("em")
    chart = chart_for(page, "em")
    expect(chart.get_by_role("heading")).to_have_text("After “em” the model expects")
    expected = api_next(server, "em")
    assert shown_chart(chart) == expected_chart(expected["next"])
    expect(chart.get_by_role("list", name="After “em” the model expects")).to_be_visible()
    expect(page.locator("#next-model")).to_have_text(expected["model"])

    box.press("m")  # one more letter: the chart follows
    chart = chart_for(page, "emm")
    assert shown_chart(chart) == expected_chart(api_next(server, "emm")["next"])
    assert watched.problems == []


def test_an_empty_score_box_charts_the_first_letter(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    chart = chart_for(page, "")
    expect(chart.get_by_role("heading")).to_have_text("To start a name the model expects")
    assert shown_chart(chart) == expected_chart(api_next(server, "")["next"])
    assert watched.problems == []


def test_the_chart_follows_the_chosen_model(server: str, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(server)
    page.get_by_test_id("score-input").press_sequentially("ka")
    chart_for(page, "ka")
    choose_model(page, OTHER_MODEL)
    chart = page.locator(f'[data-testid="next-chart"][data-prefix="ka"][data-model="{OTHER_MODEL}"]')
    expect(chart).to_be_visible()
    assert shown_chart(chart) == expected_chart(api_next(server, "ka", model=OTHER_MODEL)["next"])
    expect(page.locator("#next-model")).to_have_text(OTHER_MODEL)
    assert watched.problems == []


def test_a_slow_earlier_answer_never_overwrites_the_chart_of_newer_text(server: str, watched: WatchedPage) -> None:
    page = watched.page
    held: list[Route] = []

    def hold_em(route: Route) -> None:
        if parse_qs(urlsplit(route.request.url).query).get("prefix") == ["em"]:
            held.append(route)  # answered only after "emm" has been
        else:
            route.continue_()

    page.route(re.compile(r"/next\?"), hold_em)
    page.goto(server)
    chart_for(page, "")
    box = page.get_by_test_id("score-input")
    box.press_sequentially("em")
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while not held:  # the page has asked about "em" (route handlers run while the page is waited on)
        assert time.monotonic() < deadline, "the page never asked GET /next?prefix=em"
        page.wait_for_timeout(50)
    box.press("m")
    chart_for(page, "emm")
    with page.expect_response(lambda response: "prefix=em&" in response.url):
        held[0].continue_()
    page.wait_for_timeout(300)  # time for the stale answer to be (wrongly) drawn
    assert shown_chart(chart_for(page, "emm")) == expected_chart(api_next(server, "emm")["next"])
    assert watched.problems == []


def test_a_character_the_model_cannot_read_puts_a_message_in_place_of_the_chart(
    server: str, watched: WatchedPage
) -> None:
    vocab = httpx.get(f"{server}/model").json()["vocab"]
    assert "4" not in vocab
    page = watched.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/next?" in request.url else None)
    page.goto(server)
    chart_for(page, "")
    page.get_by_test_id("score-input").press_sequentially("em4")
    message = page.get_by_test_id("next-message")
    expect(message).to_have_text("No chart: “4” is not a character names-mlp knows.")
    expect(page.get_by_test_id("next-bars")).to_be_hidden()
    assert not any("4" in (parse_qs(urlsplit(url).query).get("prefix") or [""])[0] for url in asked)
    # The live score's 422 (POST /score) is the browser's to log; nothing about the chart went wrong.
    assert [p for p in watched.problems if "/next" in p or p.startswith("uncaught")] == []

    page.get_by_test_id("score-input").press("Backspace")  # readable again: the chart comes back
    chart_for(page, "em")


def test_a_422_from_the_server_for_the_chart_is_a_message_in_the_pages_words(server: str, watched: WatchedPage) -> None:
    """Should the page's own check miss something the server refuses, its 422 is a message, never a throw."""
    refused = httpx.get(f"{server}/next", params={"prefix": "e4", "top": 8})
    assert refused.status_code == 422
    skip_unless_a_to_z(server, "letters a to z")
    page = watched.page
    page.goto(server)
    chart_for(page, "")
    page.route(re.compile(r"/next\?"), lambda route: route.fulfill(status=422, json=refused.json()))
    page.get_by_test_id("score-input").press_sequentially("zz")
    expect(page.get_by_test_id("next-message")).to_have_text("No chart. Name can only use the letters a to z, not “4”.")
    expect(page.get_by_test_id("next-bars")).to_be_hidden()
    assert [p for p in watched.problems if p.startswith("uncaught")] == []


def test_on_a_phone_the_next_character_chart_fits_the_card(server: str, open_page: Callable[..., WatchedPage]) -> None:
    watched = open_page(PHONE)
    page = watched.page
    page.goto(server)
    page.get_by_test_id("score-input").press_sequentially("emm")
    chart = chart_for(page, "emm")
    expect(chart.get_by_role("listitem")).to_have_count(8)
    geometry = page.evaluate(
        """() => {
        const card = document.getElementById("next-chart").closest(".card").getBoundingClientRect();
        const inside = (r) => r.left >= card.left - 0.5 && r.right <= card.right + 0.5;
        return {
            page_overflows: document.documentElement.scrollWidth > window.innerWidth,
            items: [...document.querySelectorAll("#next-bars li")].map((li) => ({
                char: li.dataset.char,
                inside: [...li.children].every((part) => inside(part.getBoundingClientRect())),
                bar_width: li.querySelector(".next-bar").getBoundingClientRect().width,
                clipped: [...li.querySelectorAll(".next-char, .next-percent")].some(
                    (part) => part.scrollWidth > part.clientWidth + 0.5),
            })),
        };
    }"""
    )
    assert not geometry["page_overflows"]
    for item in geometry["items"]:
        assert item["inside"] and not item["clipped"] and item["bar_width"] >= 80, item
    assert watched.problems == []


# The policy the page must work under: only this origin, no inline script or style, no eval, no framing.
STRICT_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => window.cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`));
"""


def test_the_page_works_under_a_strict_content_security_policy(
    server: str, open_page: Callable[..., WatchedPage]
) -> None:
    """The page served with exactly STRICT_POLICY (whatever policy the server sends), then used in every way:
    not one violation. The recorder is installed through DevTools, which the policy does not govern."""
    watched = open_page(PHONE, permissions=["clipboard-read", "clipboard-write"])
    page = watched.page
    page.add_init_script(RECORD_VIOLATIONS)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    def with_strict_policy(route: Route) -> None:
        response = route.fetch()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-security-policy"}
        route.fulfill(response=response, headers={**headers, "Content-Security-Policy": STRICT_POLICY})

    page.route(re.compile(r"^https?://[^/]+/(\?.*)?$"), with_strict_policy)  # the page itself, any query
    loaded = page.goto(f"{server}/?n=6&seed=7&text=emma")  # a link: names, a score, the chart
    assert loaded is not None and loaded.headers["content-security-policy"] == STRICT_POLICY
    shown_names(page, 6)
    expect(page.get_by_test_id("score-verdict")).to_be_visible()  # the meter's width, the letters' colours
    chart_for(page, "emma")  # the bars' widths
    choose_model(page, OTHER_MODEL)  # names, score, chart and plots again
    expect(page.get_by_test_id("names")).to_have_attribute("data-model", OTHER_MODEL)
    page.wait_for_load_state("networkidle")  # the plots (images)
    names = generate(page, 24, min_length=8, seed=1)  # long names: cards widened
    name_button(page, names[2]).click()
    page.get_by_test_id("copy-all").click()
    page.get_by_test_id("same-again").click()
    generate(page, 6, suffix="a", similar_to="maria", exact=True)  # distances, how they were drawn
    expect(page.locator("#legend-distance")).to_be_visible()
    page.get_by_label("Names", exact=True).fill("5000")
    page.get_by_test_id("sample-button").click()  # the server's 422, marked on its field
    expect(page.locator("#n-error")).to_be_visible()
    page.get_by_test_id("score-input").fill("em4")  # the chart's message, the score's error
    expect(page.get_by_test_id("next-message")).to_be_visible()
    expect(page.locator("#score-error")).to_be_visible()

    assert page.evaluate("window.cspViolations") == [] and refused == []
    # The recorder does hear a violation: an inline script, which the policy blocks.
    ran = page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.inlineRan = true";
                   document.head.append(s); return window.inlineRan === true; }"""
    )
    page.wait_for_timeout(100)  # the violation event is queued as a task
    assert ran is False and len(page.evaluate("window.cspViolations")) == 1


def bring_to(page: Page, server: str, state: str) -> None:
    page.goto(f"{server}/?model=no-such-model" if state == "unknown-model" else server)
    page.wait_for_load_state("networkidle")
    chart_for(page, "")  # the chart of the first letter, under the score box
    if state == "load":
        return
    if state == "unknown-model":
        expect(page.get_by_test_id("model-notice")).to_be_visible()
        return
    if state == "other-model":
        choose_model(page, OTHER_MODEL)
    names = generate(page, 12, seed=7)
    if state == "score":
        name_button(page, names[1]).click()
        expect(page.get_by_test_id("score-verdict")).to_be_visible()
    elif state == "form-error":
        page.get_by_label("Names", exact=True).fill("5000")
        page.get_by_test_id("sample-button").click()
        expect(page.get_by_label("Names", exact=True)).to_have_attribute("aria-invalid", "true")
    elif state == "shape":  # names like another, steered to an ending; then a pattern the server refuses
        generate(page, 12, suffix="a", similar_to="maria")
        expect(page.locator("#legend-steered")).to_be_visible()
        page.get_by_label("Pattern").fill("(a")  # the Shape group is open: generate() opened it
        page.get_by_test_id("sample-button").click()
        expect(page.get_by_label("Pattern")).to_have_attribute("aria-invalid", "true")
    elif state == "typing":  # a name being typed: its live score, and the chart of what comes next
        page.get_by_test_id("score-input").press_sequentially("mar")
        chart_for(page, "mar")
        expect(page.locator('[data-testid="score-chars"][data-text="mar"]')).to_be_visible()
        expect(page.get_by_test_id("score-verdict")).to_be_visible()
    page.wait_for_timeout(600)  # smooth scrolling done


@pytest.mark.skipif(not AXE.is_file(), reason=f"{AXE} is absent: run `make browser-deps` (npm axe-core)")
@pytest.mark.parametrize(
    "state", ["load", "generate", "score", "form-error", "shape", "typing", "other-model", "unknown-model"]
)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_axe_finds_no_serious_or_critical_violation(
    server: str, open_page: Callable[..., WatchedPage], viewport: str, state: str
) -> None:
    page = open_page(VIEWPORTS[viewport]).page
    bring_to(page, server, state)
    page.evaluate(AXE.read_text(encoding="utf-8"))  # through DevTools: the page's CSP allows no inline script
    violations: list[dict[str, Any]] = page.evaluate(
        """() => axe.run(document, {
            rules: {"label-content-name-mismatch": {enabled: true}, "target-size": {enabled: true}},
            resultTypes: ["violations"],
        }).then((result) => result.violations.map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")),
        })))"""
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{viewport}-{state}.json").write_text(json.dumps(violations, indent=1) + "\n")
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshot_after_generate_and_a_score(
    server: str, open_page: Callable[..., WatchedPage], viewport: str
) -> None:
    """test-artifacts/screenshot-{desktop,phone}.png: copy them to docs/ to refresh the README's pictures.
    Names from a link (its seed beside Generate, the Seed box left empty), a name typed into the score box with
    its score, the chart of what comes next, the model picker. Saved in 256 colours: a third of the bytes."""
    from PIL import Image  # Pillow comes with matplotlib (the train extra)

    watched = open_page(VIEWPORTS[viewport])
    page = watched.page
    page.goto(f"{server}/?n=12&seed=7")
    shown_names(page, 12)
    page.get_by_test_id("score-input").press_sequentially("mar")
    chart_for(page, "mar")
    expect(page.get_by_test_id("score-verdict")).to_be_visible()
    expect(model_picker(page)).to_be_visible()
    page.wait_for_load_state("networkidle")  # the plots
    page.wait_for_timeout(600)  # smooth scrolling done
    ARTIFACTS.mkdir(exist_ok=True)
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    small = shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(ARTIFACTS / f"screenshot-{viewport}.png", optimize=True)
    assert watched.problems == []
