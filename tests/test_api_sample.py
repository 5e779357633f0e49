"""GET /sample: reproducible by seed, validated, constraints honoured or clearly reported."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.artifact import Artifact
from app.engine.scheduler import RETRY_AFTER_SECONDS
from app.engine.tasks import ScoreTask
from app.http.responses import SampleResponse
from app.http.schemas import SampleQuery


def sample(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/sample", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_different_seeds_differ(client: TestClient) -> None:
    assert sample(client, n=20, seed=1)["names"] != sample(client, n=20, seed=2)["names"]


def test_largest_seed_is_accepted_and_echoed(client: TestClient) -> None:
    body = sample(client, n=3, seed=2**64 - 1)
    assert body["seed"] == 2**64 - 1 and body["names"] == sample(client, n=3, seed=2**64 - 1)["names"]


def test_server_picked_seed_reproduces_the_response(client: TestClient) -> None:
    first = sample(client, n=15, temperature=0.9)
    assert first["names"] == sample(client, n=15, temperature=0.9, seed=first["seed"])["names"]


def test_response_shape_for_plain_request(client: TestClient) -> None:
    body = sample(client, n=7, seed=3)
    assert (body["requested"], body["returned"], body["complete"], body["message"]) == (7, 7, True, None)
    assert len(body["names"]) == 7 and [s["name"] for s in body["samples"]] == body["names"]
    assert all(name and "." not in name for name in body["names"])


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"n": 0}, "n"),
        ({"n": 1001}, "must be at most 1000 (the max_n setting)"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1}, "temperature"),
        ({"temperature": "nan"}, "finite"),
        ({"temperature": "inf"}, "finite"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"prefix": "k4"}, "'4' at position 1"),
        ({"min_length": 5, "max_length": 3}, "must be at most max_length (3), got 5"),
        ({"prefix": "abcd", "max_length": 3}, "more than max_length (3)"),
        ({"max_length": 33}, "max_length"),
        ({"tempreature": 1}, "tempreature"),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(f"{k}={val}" for k, val in v.items()),
)
def test_bad_parameters_are_422_saying_which(client: TestClient, params: dict[str, Any], fragment: str) -> None:
    response = client.get("/sample", params=params)
    assert response.status_code == 422
    assert fragment in response.text


def test_top_k_1_is_greedy_whatever_the_seed(client: TestClient) -> None:
    a, b = sample(client, n=5, top_k=1, seed=1)["names"], sample(client, n=5, top_k=1, seed=99)["names"]
    assert len(set(a)) == 1 and a == b


def test_prefix_starts_every_name_and_is_normalized_visibly(client: TestClient) -> None:
    body = sample(client, n=30, prefix="Ka", seed=5)
    assert all(name.startswith("ka") for name in body["names"])
    assert body["params"]["prefix"] == "ka"
    assert body["notes"] == ["prefix: folded into the model's vocabulary: 'K' -> 'k'"]


def test_lengths_respected(client: TestClient) -> None:
    body = sample(client, n=50, min_length=5, max_length=6, seed=8)
    assert body["complete"] and all(5 <= len(name) <= 6 for name in body["names"])


def test_unique_has_no_duplicates(client: TestClient) -> None:
    body = sample(client, n=200, unique=True, temperature=0.5, seed=4)
    assert body["complete"] and len(set(body["names"])) == 200


def test_novel_only_avoids_training_words(client: TestClient, artifact: Artifact) -> None:
    body = sample(client, n=100, novel_only=True, seed=6)
    assert body["complete"] and not set(body["names"]) & artifact.words
    assert all(s["novel"] for s in body["samples"])


def test_novel_flag_matches_training_words(client: TestClient, artifact: Artifact) -> None:
    samples = sample(client, n=100, seed=10)["samples"]
    assert [s["novel"] for s in samples] == [s["name"] not in artifact.words for s in samples]


def test_log_prob_equals_minus_total_loss_from_score(client: TestClient) -> None:
    body = sample(client, n=10, seed=12, temperature=1.5, top_k=10, prefix="mi")
    for s in body["samples"]:
        scored = client.post("/score", json={"text": s["name"]}).json()
        assert s["log_prob"] == pytest.approx(-scored["total_loss"], abs=1e-4)


def test_impossible_unique_request_ends_incomplete_with_a_message(client: TestClient) -> None:
    body = sample(client, n=5, unique=True, top_k=1, seed=0)
    assert (body["requested"], body["returned"], body["complete"]) == (5, 1, False)
    assert "only 1 of 5" in body["message"]
    assert body["attempts"] <= client.app.state.settings.max_attempts  # type: ignore[attr-defined]


def test_rare_prefix_with_fixed_length_ends_bounded(client: TestClient) -> None:
    body = sample(client, n=50, prefix="qx", min_length=3, max_length=3, top_k=1, unique=True, seed=0)
    assert body["returned"] <= 1 and body["complete"] is False and body["message"]


def test_body_matches_the_declared_response_model(client: TestClient) -> None:
    body = sample(client, n=4, seed=2, prefix="Jo", unique=True)
    assert SampleResponse.model_validate(body).model_dump() == body


def test_a_full_work_queue_is_503_with_retry_after(client: TestClient) -> None:
    scheduler = client.app.state.store.scheduler  # type: ignore[attr-defined]
    limit, scheduler.max_queued_work = scheduler.max_queued_work, 40
    engine = client.app.state.store.engine()  # type: ignore[attr-defined]
    waiting = ScoreTask(contexts_left=30, future=Future(), gone=None, scorer=engine.scorer, texts=[])  # never run
    scheduler.tasks.append(waiting)
    try:
        response = client.get("/sample", params={"n": 3})  # 3 rows x 33 steps: past the limit
    finally:
        scheduler.tasks.remove(waiting)
        scheduler.max_queued_work = limit
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS) and "busy" in response.json()["detail"]


def test_concurrent_requests_get_the_names_they_get_alone(client: TestClient) -> None:
    params = [{"n": 10, "seed": seed, "temperature": 0.9 if seed % 2 else 1.0} for seed in range(16)]
    alone = [sample(client, **p)["names"] for p in params]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda p: sample(client, **p)["names"], params))
    assert together == alone


def test_a_parameter_given_twice_is_422_naming_it(client: TestClient) -> None:
    response = client.get("/sample?n=5&n=7&seed=1")
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["query", "n"], "msg": "n is given more than once; give it once", "type": "repeated"}
    ]


def test_openapi_documents_every_query_parameter_with_its_limits(client: TestClient) -> None:
    parameters = {p["name"]: p for p in client.get("/openapi.json").json()["paths"]["/sample"]["get"]["parameters"]}
    assert set(parameters) == set(SampleQuery.model_fields)
    assert all(p["in"] == "query" and not p["required"] and p["description"] for p in parameters.values())
    assert parameters["n"]["schema"]["minimum"] == 1 and parameters["n"]["schema"]["default"] == 10
    assert parameters["top_p"]["schema"]["anyOf"][0] == {"exclusiveMinimum": 0, "maximum": 1, "type": "number"}
