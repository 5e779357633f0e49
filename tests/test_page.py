"""The web page at GET /: served by the app itself, self-contained, accessible hooks, and the model's plots.

The page checks use TestClient without entering it, so the lifespan (model load) never runs: the page and its
assets need no model. The plot routes serve a loaded model's plots, so their client is started.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.engine.patterns import MAX_PATTERN_LENGTH
from app.http.schemas import SampleQuery
from app.main import create_app
from app.settings import SHIPPED_MODELS, Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "app" / "static"
REQUIRED_TEST_IDS = ("sample-button", "names", "score-input", "score-button", "score-chars")
ASSET_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


class PageStructure(HTMLParser):
    """Collects what the checks below need from the HTML: ids, labels, test ids, and referenced URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.test_ids: list[str] = []
        self.label_targets: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.wrapped_controls: set[str] = set()
        self.urls: list[str] = []
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-testid" in attributes:
            self.test_ids.append(str(attributes["data-testid"]))
        if tag == "label":
            self._label_depth += 1
            if attributes.get("for"):
                self.label_targets.add(str(attributes["for"]))
        if tag in ("input", "select", "textarea"):
            self.controls.append(attributes)
            if self._label_depth and attributes.get("id"):
                self.wrapped_controls.add(str(attributes["id"]))
        for name in ("src", "href"):
            if attributes.get(name):
                self.urls.append(str(attributes[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1


def client_for(model_path: Path) -> TestClient:
    return TestClient(create_app(Settings(model_path=model_path)))


@pytest.fixture
def page_client(tmp_path: Path) -> TestClient:
    return client_for(tmp_path / "absent-model.pt")


def parsed_page(client: TestClient) -> PageStructure:
    parser = PageStructure()
    parser.feed(client.get("/").text)
    return parser


def test_root_serves_the_html_page(page_client: TestClient) -> None:
    response = page_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (STATIC_DIR / "index.html").read_text()


def test_page_carries_every_stable_test_hook(page_client: TestClient) -> None:
    test_ids = parsed_page(page_client).test_ids
    for test_id in REQUIRED_TEST_IDS:
        assert test_ids.count(test_id) == 1, test_id


def test_every_form_control_has_a_label(page_client: TestClient) -> None:
    page = parsed_page(page_client)
    unlabelled = [
        control.get("id")
        for control in page.controls
        if control.get("id") not in page.label_targets
        and control.get("id") not in page.wrapped_controls
        and not control.get("aria-label")
    ]
    assert page.controls and unlabelled == []


def referenced_assets(client: TestClient) -> set[str]:
    """/static/ URLs the page loads: from the HTML, then the modules the scripts import, transitively."""
    found = {url for url in parsed_page(client).urls if url.startswith("/static/")}
    pending = [url for url in found if url.endswith(".js")]
    while pending:
        for module in re.findall(r'from "\./([\w.-]+\.js)"', client.get(pending.pop()).text):
            if f"/static/{module}" not in found:
                found.add(f"/static/{module}")
                pending.append(f"/static/{module}")
    return found


def test_every_asset_the_page_loads_is_served_with_its_type(page_client: TestClient) -> None:
    assets = referenced_assets(page_client)
    assert {Path(url).suffix for url in assets} == set(ASSET_TYPES)
    for url in assets:
        response = page_client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(ASSET_TYPES[Path(url).suffix]), url
        assert response.content == (STATIC_DIR / Path(url).name).read_bytes()


def test_every_static_file_is_loaded_by_the_page(page_client: TestClient) -> None:
    shipped = {f"/static/{path.name}" for path in STATIC_DIR.iterdir() if path.name != "index.html"}
    assert referenced_assets(page_client) == shipped


def test_page_and_assets_name_no_external_url(page_client: TestClient) -> None:
    page = parsed_page(page_client)
    assert [url for url in page.urls if not url.startswith(("/", "#"))] == []
    for url in ["/", *referenced_assets(page_client)]:
        text = page_client.get(url).text
        text = re.sub(r'xmlns(:\w+)?="[^"]*"', "", text)  # an SVG namespace is a name, never fetched
        assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+", text) == [], url
        assert "@import" not in text and "@font-face" not in text, url


@pytest.mark.parametrize("name", ["missing.js", "index.html", "..%2Fmain.py", "..%2F..%2Fpyproject.toml"])
def test_static_serves_only_its_allow_list(page_client: TestClient, name: str) -> None:
    response = page_client.get(f"/static/{name}")
    assert response.status_code == 404
    assert "detail" in response.json()


LOSS_PNG = b"\x89PNG\r\n\x1a\nloss-plot-bytes"


@pytest.fixture
def plotted_model(tmp_path: Path) -> Iterator[TestClient]:
    """A served model `my-model` with a loss plot beside it and no embeddings plot."""
    (tmp_path / "my-model.pt").symlink_to(SHIPPED_MODELS / "lecture-mlp.pt")
    (tmp_path / "my-model.loss.png").write_bytes(LOSS_PNG)
    with TestClient(create_app(Settings(model_path=tmp_path, warm_names=0))) as client:
        yield client


def test_plots_beside_the_model_are_listed_and_served(plotted_model: TestClient) -> None:
    assert plotted_model.get("/model/plots").json() == {"available": ["loss"]}
    assert plotted_model.get("/model/plots", params={"model": "my-model"}).json() == {"available": ["loss"]}
    response = plotted_model.get("/model/plots/loss")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == LOSS_PNG


def test_absent_plot_is_a_404_that_names_the_missing_file(plotted_model: TestClient) -> None:
    response = plotted_model.get("/model/plots/embeddings")
    assert response.status_code == 404
    assert "my-model.embeddings.png" in response.json()["detail"]


def test_plots_of_an_unknown_model_are_a_404_listing_the_models(plotted_model: TestClient) -> None:
    response = plotted_model.get("/model/plots/loss", params={"model": "other"})
    assert response.status_code == 404 and response.json()["models"] == ["my-model"]


@pytest.mark.parametrize("kind", ["card", "..%2Fmy-model.pt", "loss.png"])
def test_plot_kind_outside_the_two_names_is_rejected(plotted_model: TestClient, kind: str) -> None:
    response = plotted_model.get(f"/model/plots/{kind}")
    assert response.status_code in (404, 422)
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("url", ["/", "/static/app.js", "/static/app.css"])
def test_an_unchanged_file_is_revalidated_with_an_empty_304(page_client: TestClient, url: str) -> None:
    first = page_client.get(url)
    assert first.headers["cache-control"] == "no-cache"
    again = page_client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert page_client.get(url, headers={"If-None-Match": '"something-else"'}).content == first.content


def test_api_docs_load_every_asset_from_this_server(page_client: TestClient) -> None:
    """/docs works offline: its scripts and styles come from the app, not from a CDN."""
    html = page_client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), f"/docs loads {asset} from elsewhere"
        assert page_client.get(asset).status_code == 200


def test_number_boxes_carry_the_limits_of_the_api(page_client: TestClient) -> None:
    """The browser's own limits match GET /sample's: no box lets through a value the API always refuses."""
    controls = {str(c.get("id")): c for c in parsed_page(page_client).controls}
    number_boxes = [name for name, c in controls.items() if c.get("type") == "number"]
    assert sorted(number_boxes) == sorted(["n", "temperature", "seed", "min_length", "max_length", "top_k", "top_p"])
    assert float(str(controls["temperature"]["min"])) > 0  # temperature must be > 0: "0" is out of range
    assert float(str(controls["top_p"]["min"])) > 0 and controls["top_p"]["max"] == "1"
    assert controls["n"]["min"] == controls["min_length"]["min"] == controls["max_length"]["min"] == "1"
    assert controls["top_k"]["min"] == "1" and controls["seed"]["min"] == "0"
    assert controls["seed"]["max"] == str(2**64 - 1)


def test_every_get_sample_parameter_has_a_control_named_for_it(page_client: TestClient) -> None:
    """The form offers all of GET /sample (the model has its own picker), each control's id its parameter."""
    ids = {str(c.get("id")) for c in parsed_page(page_client).controls}
    assert set(SampleQuery.model_fields) - {"model"} <= ids


def test_text_boxes_hold_no_more_than_the_api_reads(page_client: TestClient) -> None:
    """A box's maxlength is the API's limit under the default settings: the longest name for the texts that are
    part of a name, the pattern's own limit for the pattern."""
    controls = {str(c.get("id")): c for c in parsed_page(page_client).controls}
    longest = Settings().max_name_length
    for name in ("prefix", "suffix", "contains", "similar_to"):
        assert controls[name].get("maxlength") == str(longest), name
    assert controls["pattern"].get("maxlength") == str(MAX_PATTERN_LENGTH)
    assert controls["exact"].get("type") == "checkbox"


def test_page_has_no_inline_script_or_style_for_its_policy_to_block(page_client: TestClient) -> None:
    html = page_client.get("/").text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.findall(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html, re.IGNORECASE) == []


# What a policy without 'unsafe-inline' or 'unsafe-eval' blocks, written from a script: markup parsed from a
# string (it may carry style= or on*=), a style or handler attribute, and code run from a string. Styles are set
# through CSSOM (element.style.setProperty), which the policy allows.
BLOCKED_IN_SCRIPTS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|setAttribute\(\s*[\"'](style|on\w+)[\"']"
    r"|\beval\(|new Function\b|set(Timeout|Interval)\(\s*[\"'`]"
)


@pytest.mark.parametrize("path", sorted(STATIC_DIR.glob("*.js")), ids=lambda path: path.name)
def test_scripts_build_the_page_without_anything_a_strict_policy_blocks(path: Path) -> None:
    script = path.read_text(encoding="utf-8")
    assert [m.group(0) for m in BLOCKED_IN_SCRIPTS.finditer(script)] == []


def test_score_examples_are_buttons_that_name_what_they_score(page_client: TestClient) -> None:
    html = page_client.get("/").text
    examples = re.findall(r'<button type="button" class="example" data-example="([^"]+)">([^<]+)</button>', html)
    assert len(examples) >= 3
    assert all(value == label and re.fullmatch("[a-z]+", value) for value, label in examples)


def test_page_has_a_labelled_model_picker_and_the_next_character_chart(page_client: TestClient) -> None:
    """The picker is filled from GET /models by the page's script; without a browser it is there, labelled."""
    html = page_client.get("/").text
    assert re.search(r'<label for="model">Model</label>\s*<select id="model"', html)
    page = parsed_page(page_client)
    assert page.test_ids.count("model-select") == 1 and page.test_ids.count("next-chart") == 1
    assert re.search(r'<ol id="next-bars"[^>]*aria-labelledby="next-title"', html)
