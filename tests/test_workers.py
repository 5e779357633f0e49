"""Several workers (python -m app.http.serve with NAMEGEN_WORKERS=2): the same seed gives the same names whichever
worker answers, and /metrics adds up every worker's counts (prometheus-client multiprocess mode)."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from servers import ServerProcess

pytestmark = pytest.mark.server

PARAMS = {"n": 20, "seed": 20240611, "temperature": 0.9}
SAMPLE_SERIES = {"method": "GET", "route": "/sample", "status": "200"}


def sample_requests_by_worker(metrics_dir: Path) -> dict[str, float]:
    """/sample 200s counted in each worker's own metrics file (counter_<pid>.db)."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        total = 0.0
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "namegen_http_requests_total" and all(labels.get(k) == v for k, v in SAMPLE_SERIES.items()):
                total += value
        counts[path.stem] = total
    return counts


def test_two_workers_give_the_same_names_for_the_same_seed(
    start_server: Callable[..., ServerProcess], client: TestClient, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    server = start_server(env={"NAMEGEN_WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    expected = client.get("/sample", params=PARAMS).json()["names"]

    def fresh_connection_sample(_: int) -> list[str]:
        response = httpx.get(f"{server.base_url}/sample", params=PARAMS, timeout=30)  # a new connection each
        assert response.status_code == 200
        return list(response.json()["names"])

    sent = 0
    answers: list[list[str]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        # Keep going (bounded) until both workers have answered some, so the comparison spans processes.
        while sent < 400:
            answers += pool.map(fresh_connection_sample, range(40))
            sent += 40
            served = sample_requests_by_worker(metrics_dir)
            if len([c for c in served.values() if c > 0]) >= 2:
                break
    served = sample_requests_by_worker(metrics_dir)
    assert len([count for count in served.values() if count > 0]) == 2, served
    assert all(names == expected for names in answers)

    # /metrics aggregates both workers' files: the total equals what was sent, whoever answered.
    families = text_string_to_metric_families(httpx.get(f"{server.base_url}/metrics", timeout=10).text)
    total = sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == "namegen_http_requests_total" and all(s.labels.get(k) == v for k, v in SAMPLE_SERIES.items())
    )
    assert total == sent == sum(served.values())
