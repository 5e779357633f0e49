"""GET /sample with suffix, contains, excludes, pattern, similar_to and exact, on the shipped model: every name
satisfies every constraint, the probabilities are the model's, and what cannot be met is a 422 that says why."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_constraints import damerau_levenshtein

from app.http.responses import SampleResponse


def sample(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/sample", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def satisfies(name: str, params: dict[str, Any]) -> bool:
    return (
        params.get("min_length", 1) <= len(name) <= params.get("max_length", 32)
        and name.startswith(params.get("prefix", ""))
        and name.endswith(params.get("suffix", ""))
        and params.get("contains", "") in name
        and not set(name) & set(params.get("excludes", ""))
        and re.fullmatch(params.get("pattern", ".*"), name) is not None
    )


COMBINATIONS = [
    {"suffix": "son"},
    {"suffix": "xyz"},
    {"contains": "ell"},
    {"excludes": "aeiou"},
    {"pattern": "[aeiou][a-z]*[aeiou]"},
    {"prefix": "ma", "suffix": "a", "contains": "ri", "excludes": "z", "min_length": 5, "max_length": 8},
    {"pattern": "(ka|lo|mi)[a-z]{2,4}", "suffix": "n", "unique": True, "novel_only": True},
    {"suffix": "son", "temperature": 0.7, "top_k": 5},
    {"contains": "y", "excludes": "e", "top_p": 0.8},
    {"suffix": "ton", "exact": True, "temperature": 1.2},
    {"pattern": "^q[^aeiou]+y$", "similar_to": "quincy"},
]


@pytest.mark.parametrize("params", COMBINATIONS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_every_name_satisfies_every_constraint(client: TestClient, params: dict[str, Any]) -> None:
    body = sample(client, n=200, seed=9, **params)
    assert body["complete"] and len(body["names"]) == 200
    assert [name for name in body["names"] if not satisfies(name, params)] == []
    if params.get("unique"):
        assert len(set(body["names"])) == 200


def test_constrained_names_are_reproducible_and_independent_of_other_requests(client: TestClient) -> None:
    requests = [
        {"n": 20, "seed": seed, "suffix": "son" if seed % 2 else "ley", "pattern": "[a-m].*"} for seed in range(8)
    ]
    alone = [sample(client, **p)["names"] for p in requests]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: sample(client, **p)["names"], requests))
    assert together == alone


def test_log_prob_equals_minus_total_loss_from_score_for_constrained_names(client: TestClient) -> None:
    body = sample(client, n=10, seed=12, prefix="mi", suffix="xyz", temperature=1.5, top_k=10)
    for s in body["samples"]:
        scored = client.post("/score", json={"text": s["name"]}).json()
        assert s["log_prob"] == pytest.approx(-scored["total_loss"], abs=1e-4)
        assert s["constrained_log_prob"] > s["log_prob"]  # a rare suffix: far likelier under the guided sampler


def test_the_response_says_how_the_constraints_changed_the_distribution(client: TestClient) -> None:
    body = sample(client, n=4, seed=2, suffix="son")
    assert SampleResponse.model_validate(body).model_dump() == body
    assert any(note.startswith("constraints: each character was drawn") for note in body["notes"])
    assert (body["drawn"], body["effective_sample_size"]) == (4, None)


def test_exact_draws_ten_candidates_per_name_and_reports_their_effective_sample_size(client: TestClient) -> None:
    body = sample(client, n=200, seed=4, suffix="son", exact=True)
    assert body["drawn"] == 2000 and 1 <= body["effective_sample_size"] <= 2000
    assert any(note.startswith("exact: the names were drawn") for note in body["notes"])


def test_text_constraints_are_normalized_like_the_prefix_and_say_so(client: TestClient) -> None:
    body = sample(client, n=10, seed=1, suffix=" SÖN", contains="É")
    assert all(name.endswith("son") and "e" in name for name in body["names"])
    assert (body["params"]["suffix"], body["params"]["contains"]) == ("son", "e")
    assert "suffix: folded into the model's vocabulary: 'N' -> 'n', 'S' -> 's', 'Ö' -> 'o'" in body["notes"]


def test_similar_to_comes_closest_first_with_its_distance(client: TestClient) -> None:
    body = sample(client, n=25, seed=3, similar_to="Maria")
    distances = [s["distance"] for s in body["samples"]]
    assert distances == sorted(distances)
    assert distances == [damerau_levenshtein(name, "maria") for name in body["names"]]
    assert body["drawn"] == 1000 and body["params"]["similar_to"] == "maria"


@pytest.mark.parametrize(
    ("params", "loc", "fragment"),
    [
        ({"suffix": "s0n"}, ["query", "suffix", 1], "character '0' at position 1 is outside the model's vocabulary"),
        ({"excludes": "a", "prefix": "ka"}, ["query", "excludes"], "has 'a', which the prefix 'ka' needs"),
        ({"suffix": "abcd", "max_length": 3}, ["query", "suffix"], "has 4 characters, more than max_length (3)"),
        (
            {"prefix": "ab", "suffix": "cd", "max_length": 3},
            ["query", "suffix"],
            "no name of 1 to 3 characters starts with 'ab' and ends with 'cd'",
        ),
        ({"excludes": "abcdefghijklmnopqrstuvwxyz"}, ["query", "excludes"], "leaves no name of 1 to 32 characters"),
        ({"pattern": "K.*"}, ["query", "pattern"], "outside it never match: 'K'"),
        ({"pattern": ""}, ["query", "pattern"], "matches no name of 1 to 32 characters"),
        ({"pattern": "[a-"}, ["query", "pattern"], "unterminated character set at position 0"),
        ({"pattern": "(a)\\1"}, ["query", "pattern"], "uses backreferences at position 3"),
        ({"pattern": "(a|b)*a(a|b){16}"}, ["query", "pattern"], "too complex"),
        ({"similar_to": " "}, ["query", "similar_to"], "is empty"),
        ({"exact": True, "top_p": 0.9}, ["query", "exact"], "cannot be combined with top_k or top_p"),
    ],
    ids=lambda v: ",".join(f"{k}={val}" for k, val in v.items()) if isinstance(v, dict) else None,
)
def test_constraints_that_cannot_be_met_are_422_naming_the_field_and_why(
    client: TestClient, params: dict[str, Any], loc: list[Any], fragment: str
) -> None:
    response = client.get("/sample", params={"n": 5, **params})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == loc and fragment in problem["msg"]
