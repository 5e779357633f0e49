"""Prometheus metrics shared by the routers (prometheus-client)."""

from __future__ import annotations

from prometheus_client import Counter

NAMES_GENERATED = Counter("namegen_names_generated", "Names returned by /sample")


def record_names(count: int) -> None:
    NAMES_GENERATED.inc(count)
