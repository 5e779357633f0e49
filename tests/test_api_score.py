"""POST /score and /score/batch over the shipped artifact."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.engine.artifact import Artifact
from app.engine.scheduler import Task


def forward_losses(artifact: Artifact, text: str) -> list[float]:
    """Independent: every (context, target) window built by hand, one forward, log_softmax."""
    ids = [artifact.vocab.index(c) for c in text] + [0]
    padded = [0] * artifact.block_size + ids
    contexts = [padded[i : i + artifact.block_size] for i in range(len(ids))]
    with torch.inference_mode():
        logp = torch.log_softmax(artifact.module(torch.tensor(contexts)).double(), dim=1)
    return [-float(logp[i, t]) for i, t in enumerate(ids)]


def test_score_gives_one_entry_per_character_plus_end(client: TestClient, artifact: Artifact) -> None:
    body = client.post("/score", json={"text": "emma"}).json()
    want = forward_losses(artifact, "emma")
    assert [c["char"] for c in body["chars"]] == ["e", "m", "m", "a", "."]
    assert [c["loss"] for c in body["chars"]] == pytest.approx(want, abs=1e-5)
    assert body["total_loss"] == pytest.approx(sum(want), abs=1e-4)
    assert body["mean_loss"] == pytest.approx(sum(want) / 5, abs=1e-5)
    assert body["perplexity"] == pytest.approx(torch.tensor(sum(want) / 5).exp().item(), rel=1e-5)
    assert body["normalized"] is False and body["text"] == body["input"] == "emma"


def test_score_reports_normalization(client: TestClient, artifact: Artifact) -> None:
    body = client.post("/score", json={"text": "  Emma "}).json()
    assert (body["text"], body["input"], body["normalized"]) == ("emma", "  Emma ", True)
    assert body["total_loss"] == pytest.approx(sum(forward_losses(artifact, "emma")), abs=1e-4)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a" * 65, "65 characters; the limit is 64"),  # default max_text_length
        ("em1a", "'1' at position 2"),
        ("jo-ann", "'-' at position 2"),
        ("straße", "'ß' at position 4"),
    ],
    ids=["empty", "blank", "too-long", "digit", "hyphen", "sharp-s"],
)
def test_invalid_text_is_422_saying_why(client: TestClient, text: str, fragment: str) -> None:
    response = client.post("/score", json={"text": text})
    assert response.status_code == 422
    assert fragment in response.text


def test_missing_text_field_is_422(client: TestClient) -> None:
    assert client.post("/score", json={"txt": "emma"}).status_code == 422


def test_batch_results_equal_single_scores(client: TestClient) -> None:
    texts = ["emma", "Olivia", "x", "christopher", "ava"]
    batch = client.post("/score/batch", json={"texts": texts}).json()["results"]
    for text, result in zip(texts, batch, strict=True):
        single = client.post("/score", json={"text": text}).json()
        assert result["text"] == single["text"] and result["input"] == text
        assert [c["loss"] for c in result["chars"]] == pytest.approx([c["loss"] for c in single["chars"]], abs=1e-5)
        assert result["total_loss"] == pytest.approx(single["total_loss"], abs=1e-4)


def test_batch_with_invalid_texts_names_each_index(client: TestClient) -> None:
    response = client.post("/score/batch", json={"texts": ["emma", "a1", "ok", ""]})
    assert response.status_code == 422
    vocab = "abcdefghijklmnopqrstuvwxyz"
    assert response.json()["detail"] == [
        {
            "loc": ["body", "texts", 1, 1],
            "msg": f"character '1' at position 1 is outside the model's vocabulary ('{vocab}')",
            "type": "outside_vocabulary",
        },
        {"loc": ["body", "texts", 3], "msg": "is empty (after removing surrounding whitespace)", "type": "empty"},
    ]


def test_a_folded_text_scores_as_its_fold_and_says_so(client: TestClient) -> None:
    folded = client.post("/score", json={"text": "Zoë"}).json()
    plain = client.post("/score", json={"text": "zoe"}).json()
    assert (folded["text"], folded["input"], folded["normalized"]) == ("zoe", "Zoë", True)
    assert folded["notes"] == ["text: folded into the model's vocabulary: 'Z' -> 'z', 'ë' -> 'e'"]
    assert folded["total_loss"] == plain["total_loss"]


def test_batch_size_limits(client: TestClient) -> None:
    max_batch = client.app.state.settings.max_batch  # type: ignore[attr-defined]
    assert client.post("/score/batch", json={"texts": []}).status_code == 422
    too_many = client.post("/score/batch", json={"texts": ["ann"] * (max_batch + 1)})
    assert too_many.status_code == 422 and f"between 1 and {max_batch}" in too_many.text


def test_concurrent_scores_all_run_in_the_one_compute_thread(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = client.app.state.store.engine().scorer  # type: ignore[attr-defined]
    original, threads = scorer.score_many, set()

    def recording(texts: list[str], with_next: bool = False) -> list[dict[str, Any]]:
        threads.add(threading.current_thread().name)
        result: list[dict[str, Any]] = original(texts, with_next)
        return result

    monkeypatch.setattr(scorer, "score_many", recording)
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda _: client.post("/score", json={"text": "emma"}).status_code, range(12)))
    assert statuses == [200] * 12
    assert len(threads) == 1 and threads.pop().startswith("namegen-compute")


def test_a_large_body_is_refused_unread_while_the_work_queue_is_full(client: TestClient) -> None:
    scheduler = client.app.state.store.scheduler  # type: ignore[attr-defined]
    waiting = Task("score", contexts_left=scheduler.max_queued_work, future=Future(), gone=None)  # type: ignore[arg-type]
    scheduler.tasks.append(waiting)
    try:
        large = client.post("/score/batch", json={"texts": ["abcdefghij"] * 1000})
        small = client.post("/score", json={"text": "emma"})
    finally:
        scheduler.tasks.remove(waiting)
    assert large.status_code == 503 and large.headers["retry-after"] == "1"
    assert large.json() == {"detail": "server busy: the work queue is full; retry in 1 s"}
    assert small.status_code == 200  # small requests have their reserve
