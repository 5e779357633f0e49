"""Scores equal an independent computation from the model's forward; the text rules are explicit."""

from __future__ import annotations

import math

import pytest
import torch

from app.engine.artifact import Artifact
from app.engine.scorer import Scorer


def independent_losses(artifact: Artifact, text: str) -> list[float]:
    """-ln p of each character and of the end token, contexts built by hand, one forward per position."""
    ids = [artifact.vocab.index(c) for c in text] + [0]
    context, losses = [0] * artifact.block_size, []
    for target in ids:
        with torch.inference_mode():
            logits = artifact.module(torch.tensor([context]))
        losses.append(-float(torch.log_softmax(logits.double(), dim=1)[0, target]))
        context = [*context[1:], target]
    return losses


def test_batched_scores_equal_per_position_forward(artifact: Artifact) -> None:
    texts = ["emma", "olivia", "x", "zzzzqqq", "a" * 20]
    results = Scorer(artifact).score_many(texts)
    for text, result in zip(texts, results, strict=True):
        want = independent_losses(artifact, text)
        assert [c.char for c in result.chars] == [*text, "."]
        assert [c.loss for c in result.chars] == pytest.approx(want, abs=1e-5)
        assert [c.prob for c in result.chars] == pytest.approx([math.exp(-x) for x in want], abs=1e-6)
        assert result.total_loss == pytest.approx(sum(want), abs=1e-4)
        assert result.mean_loss == pytest.approx(sum(want) / len(want), abs=1e-5)
        assert result.perplexity == pytest.approx(math.exp(sum(want) / len(want)), rel=1e-5)


def test_a_text_scores_the_same_alone_and_in_a_batch(artifact: Artifact) -> None:
    scorer = Scorer(artifact)
    alone = scorer.score_many(["sophia"])[0]
    batched = scorer.score_many(["a", "sophia", "christopher"])[1]
    assert [c.loss for c in batched.chars] == pytest.approx([c.loss for c in alone.chars], abs=1e-5)
