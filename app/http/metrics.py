"""Prometheus metrics (prometheus-client).

With several workers, `python -m app.http.serve` sets PROMETHEUS_MULTIPROC_DIR before the workers start, so every
worker writes its samples there and /metrics aggregates all of them.
"""

from __future__ import annotations

import functools
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"  # one label for every path no route matches, so 404 probes cannot add series
# Any token is a valid HTTP method; labels only for the standard ones, so made-up methods cannot add series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"

# Label `model`: the served model's name ("" for requests that use none, e.g. /healthz, or name an unknown one),
# so its values are bounded by what is loaded.
NAMES_GENERATED = Counter("namegen_names_generated", "Names returned by /sample", ["model"])
REQUESTS = Counter(
    "namegen_http_requests",
    "HTTP requests by method, route template, status and model",
    ["method", "route", "status", "model"],
)
LATENCY = Histogram(
    "namegen_http_request_duration_seconds",
    "Time from request start to the end of the response, by route template and model",
    ["method", "route", "model"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# The sampler's context cache: lookups against contexts the network had to compute, and the time that took.
# A low hit rate or a large share of time in the network says to raise NAMEGEN_CACHE_CONTEXTS / NAMEGEN_WARM_NAMES.
CONTEXT_LOOKUPS = Counter(
    "namegen_context_lookups", "Contexts the sampler looked up (one per name per character)", ["model"]
)
CONTEXTS_COMPUTED = Counter(
    "namegen_contexts_computed", "Contexts missing from the cache, computed by the network", ["model"]
)
NETWORK_SECONDS = Counter(
    "namegen_network_seconds", "Seconds the sampler spent computing contexts in the network", ["model"]
)
CONNECTIONS_CLOSED = Counter(
    "namegen_connections_refused",
    "Connections the server closed for a bound: head_size, head_time, body_time, send_time, idle, connections, "
    "malformed",
    ["reason"],
)
QUEUED_WORK = Gauge(
    "namegen_queued_work", "Contexts of sampling and scoring work queued or running", multiprocess_mode="livesum"
)
REJECTED = Counter("namegen_requests_rejected_busy", "Requests refused with 503 because the work queue was full")
ABANDONED = Counter("namegen_requests_abandoned", "Requests whose work stopped because their client had gone")
# An info-style gauge (value 1) rather than prometheus_client.Info, which multiprocess mode does not support.
MODEL_INFO = Gauge(
    "namegen_model_info",
    "Each served model: its artifact's sha256, recipe and dev loss (value is always 1)",
    ["model", "sha256", "recipe", "dev_loss"],
    multiprocess_mode="max",
)


@functools.cache
def sample_series(model: str) -> tuple[Counter, Counter, Counter, Counter]:
    """The model's /sample counters, looked up once (a labels() lookup per counter per request adds up)."""
    return (
        NAMES_GENERATED.labels(model),
        CONTEXT_LOOKUPS.labels(model),
        CONTEXTS_COMPUTED.labels(model),
        NETWORK_SECONDS.labels(model),
    )


def record_sample(model: str, names: int, lookups: int, computed: int, network_seconds: float) -> None:
    """After each /sample: the names it returned, and what the model's sampler did since the last report. Per
    request rather than at scrape time: with several workers, a scrape is served by one of them, and the others'
    counters must be current too."""
    names_series, lookups_series, computed_series, seconds_series = sample_series(model)
    names_series.inc(names)
    lookups_series.inc(lookups)
    computed_series.inc(computed)
    seconds_series.inc(network_seconds)


def record_request(method: str, route: str, status: int, seconds: float, model: str = "") -> None:
    method = method if method in KNOWN_METHODS else OTHER_METHOD
    REQUESTS.labels(method, route, str(status), model).inc()
    LATENCY.labels(method, route, model).observe(seconds)


def record_connection_closed(reason: str) -> None:
    CONNECTIONS_CLOSED.labels(reason).inc()


def record_busy() -> None:
    REJECTED.inc()


def record_abandoned() -> None:
    ABANDONED.inc()


def set_model_info(models: list[tuple[str, str, str, float | None]]) -> None:
    """One series per served model: (name, sha256, recipe, dev loss)."""
    MODEL_INFO.clear()
    for name, sha256, recipe, dev_loss in models:
        MODEL_INFO.labels(name, sha256, recipe, "" if dev_loss is None else str(dev_loss)).set(1)


def exposition(queued_work: int | None = None) -> tuple[bytes, str]:
    """The metrics page: this process's registry, or every worker's samples in multiprocess mode."""
    if queued_work is not None:
        QUEUED_WORK.set(queued_work)
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
