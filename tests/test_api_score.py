"""POST /score and /score/batch over the shipped artifact."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.engine.artifact import Artifact
from app.engine.tasks import ScoreTask


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

    def recording(texts: list[Any]) -> list[Any]:
        threads.add(threading.current_thread().name)
        return original(texts)

    monkeypatch.setattr(scorer, "score_many", recording)
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda _: client.post("/score", json={"text": "emma"}).status_code, range(12)))
    assert statuses == [200] * 12
    assert len(threads) == 1 and threads.pop().startswith("namegen-compute")


def test_a_large_body_is_refused_unread_while_the_work_queue_is_full(client: TestClient) -> None:
    scheduler = client.app.state.store.scheduler  # type: ignore[attr-defined]
    scorer = client.app.state.store.engine().scorer  # type: ignore[attr-defined]
    waiting = ScoreTask(contexts_left=scheduler.max_queued_work, future=Future(), gone=None, scorer=scorer, texts=[])
    scheduler.tasks.append(waiting)
    try:
        large = client.post("/score/batch", json={"texts": ["abcdefghij"] * 1000})
        small = client.post("/score", json={"text": "emma"})
    finally:
        scheduler.tasks.remove(waiting)
    assert large.status_code == 503 and large.headers["retry-after"] == "1"
    assert large.json() == {"detail": "server busy: the work queue is full; retry in 1 s"}
    assert small.status_code == 200  # small requests have their reserve
