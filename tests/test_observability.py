"""Request ids, JSON access logs, Prometheus metrics, and CORS (off unless configured)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.http.logs import JsonFormatter
from app.main import create_app
from app.settings import SHIPPED_MODELS, Settings


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """Everything the app logs while a test runs, formatted as the server formats it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("namegen")
    logger.addHandler(handler)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)


def logged(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


DEFAULT_MODEL = {"model": "names-mlp"}  # series are per model; other tests' apps serve other models


def sample_value(client: TestClient, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample from /metrics, parsed with prometheus-client's own parser (0 when absent)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(sample.value)
    return 0.0


def test_a_valid_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "checkout-42.a_b:c"})
    assert response.headers["x-request-id"] == "checkout-42.a_b:c"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "new\\nline", "<script>", "ünïcode"])
def test_an_unsafe_request_id_is_replaced_by_a_fresh_one(client: TestClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad.encode("utf-8")})
    replaced = response.headers["x-request-id"]
    assert len(replaced) == 32 and all(c in "0123456789abcdef" for c in replaced)


def test_every_request_gets_a_distinct_id_when_none_is_sent(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_access_log_is_one_json_object_per_request(client: TestClient, access_lines: io.StringIO) -> None:
    client.post("/score", json={"text": "emma"}, headers={"X-Request-ID": "log-check-1"})
    entries = [e for e in logged(access_lines) if e["logger"] == "namegen.access"]
    assert len(entries) == 1
    entry = entries[0]
    assert {k: entry[k] for k in ("level", "request_id", "method", "path", "route", "status")} == {
        "level": "info", "request_id": "log-check-1", "method": "POST", "path": "/score", "route": "/score",
        "status": 200,
    }  # fmt: skip
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert str(entry["time"]).endswith("+00:00")


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    ok = {"method": "GET", "route": "/model/plots/{kind}", "status": "200", "model": "names-mlp"}
    missing = {"method": "GET", "route": "<unmatched>", "status": "404", "model": ""}
    before_ok = sample_value(client, "namegen_http_requests_total", ok)
    before_missing = sample_value(client, "namegen_http_requests_total", missing)
    client.get("/model/plots/loss")
    client.get("/model/plots/loss")
    for path in ("/nope-1", "/nope-2", "/nope-3"):  # distinct paths share one series: no label explosion
        client.get(path)
    assert sample_value(client, "namegen_http_requests_total", ok) == before_ok + 2
    assert sample_value(client, "namegen_http_requests_total", missing) == before_missing + 3


def test_latency_histogram_counts_each_request(client: TestClient) -> None:
    labels = {"method": "POST", "route": "/score/batch", **DEFAULT_MODEL}
    before = sample_value(client, "namegen_http_request_duration_seconds_count", labels)
    client.post("/score/batch", json={"texts": ["anna", "bob"]})
    assert sample_value(client, "namegen_http_request_duration_seconds_count", labels) == before + 1
    assert sample_value(client, "namegen_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"}) == before + 1


def test_names_generated_counts_returned_names(client: TestClient) -> None:
    before = sample_value(client, "namegen_names_generated_total", DEFAULT_MODEL)
    returned = client.get("/sample", params={"n": 7, "seed": 11}).json()["returned"]
    assert sample_value(client, "namegen_names_generated_total", DEFAULT_MODEL) == before + returned


def test_model_identity_is_an_info_metric_per_served_model() -> None:
    # Its own app: the metric is the process's, and the last app started in it (other tests start theirs) sets it.
    with TestClient(create_app(Settings(warm_names=0))) as client:
        served = client.get("/models").json()["models"]
        for model in served:
            meta = client.get("/model", params={"model": model["name"]}).json()
            labels = {
                "model": model["name"],
                "sha256": hashlib.sha256((SHIPPED_MODELS / model["file"]).read_bytes()).hexdigest(),
                "recipe": str(meta.get("recipe", "")),
                "dev_loss": str(meta["dev_loss"]),
            }
            assert sample_value(client, "namegen_model_info", labels) == 1.0
        families = text_string_to_metric_families(client.get("/metrics").text)
        info = [s for f in families for s in f.samples if s.name == "namegen_model_info"]
        # One series per served model: the shipped three, and any model trained into model_artifacts/ beside them.
        assert sorted(s.labels["model"] for s in info) == sorted(model["name"] for model in served)
        assert {"lecture-mlp", "names-mlp", "us-surnames"} <= {model["name"] for model in served}


def test_metrics_are_served_as_text(client: TestClient) -> None:
    # Their content, parsed with prometheus-client's own parser, is what the counting tests above read.
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_the_configured_origins() -> None:
    settings = Settings(cors_origins=["https://names.example"])
    with TestClient(create_app(settings)) as client:
        allowed = client.get("/healthz", headers={"Origin": "https://names.example"})
        other = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://names.example"
    assert "access-control-allow-origin" not in other.headers


def test_cors_origins_setting_reads_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMEGEN_CORS_ORIGINS", " https://a.example, https://b.example ")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/readyz", "/model", "/metrics", "/sample", "/score", "/score/batch"} <= set(paths)


def test_context_cache_counters_follow_each_sample(client: TestClient) -> None:
    params = {"n": 6, "seed": 12345}
    client.get("/sample", params=params)  # computes whatever of it is not cached yet
    lookups = sample_value(client, "namegen_context_lookups_total", DEFAULT_MODEL)
    computed = sample_value(client, "namegen_contexts_computed_total", DEFAULT_MODEL)
    body = client.get("/sample", params=params).json()
    assert body["attempts"] == 1  # one round: one lookup per character and per end token
    looked_up = sum(len(n) + 1 for n in body["names"])
    assert sample_value(client, "namegen_context_lookups_total", DEFAULT_MODEL) == lookups + looked_up
    # The same draws: all cached.
    assert sample_value(client, "namegen_contexts_computed_total", DEFAULT_MODEL) == computed
    assert sample_value(client, "namegen_network_seconds_total") > 0
