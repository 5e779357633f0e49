"""training.bigram: the count-based baseline, checked against hand-counted probabilities."""

from __future__ import annotations

import math

import pytest
import torch

from training.bigram import bigram_log_probs, bigram_loss
from training.data import ContextWindows, Vocabulary

# Training words "ab" and "b" over the vocabulary . a b give the pairs
#   .->a  a->b  b->.  .->b  b->.
# With one added to every cell, the rows (next = . a b) are
#   after '.': 1 2 2 (of 5)    after 'a': 1 1 2 (of 4)    after 'b': 3 1 1 (of 5)
TRAIN = ["ab", "b"]
VOCAB = Vocabulary.from_words(TRAIN)
HAND_PROBS = torch.tensor([[1 / 5, 2 / 5, 2 / 5], [1 / 4, 1 / 4, 2 / 4], [3 / 5, 1 / 5, 1 / 5]])


def test_add_one_probabilities_match_the_hand_counts() -> None:
    log_probs = bigram_log_probs(ContextWindows.build(TRAIN, VOCAB, 1), VOCAB.size)
    assert torch.allclose(log_probs.exp(), HAND_PROBS, atol=1e-6)


def test_loss_on_the_training_words_matches_the_hand_computation() -> None:
    windows = ContextWindows.build(TRAIN, VOCAB, 1)
    expected = -(math.log(2 / 5) + math.log(2 / 4) + math.log(3 / 5) + math.log(2 / 5) + math.log(3 / 5)) / 5
    assert bigram_loss(bigram_log_probs(windows, VOCAB.size), windows) == pytest.approx(expected, abs=1e-6)


def test_loss_on_an_unseen_word_uses_the_smoothed_counts() -> None:
    log_probs = bigram_log_probs(ContextWindows.build(TRAIN, VOCAB, 1), VOCAB.size)
    # "ba": .->b 2/5, b->a 1/5, a->. 1/4 (never seen in training: smoothing keeps it finite)
    expected = -(math.log(2 / 5) + math.log(1 / 5) + math.log(1 / 4)) / 3
    assert bigram_loss(log_probs, ContextWindows.build(["ba"], VOCAB, 1)) == pytest.approx(expected, abs=1e-6)


def test_only_the_last_context_position_matters() -> None:
    short = bigram_log_probs(ContextWindows.build(TRAIN, VOCAB, 1), VOCAB.size)
    long = bigram_log_probs(ContextWindows.build(TRAIN, VOCAB, 4), VOCAB.size)
    assert torch.equal(short, long)
    assert bigram_loss(long, ContextWindows.build(["ba"], VOCAB, 4)) == bigram_loss(
        short, ContextWindows.build(["ba"], VOCAB, 1)
    )


def test_without_smoothing_the_rows_are_plain_frequencies() -> None:
    log_probs = bigram_log_probs(ContextWindows.build(TRAIN, VOCAB, 1), VOCAB.size, smoothing=0.0)
    # after '.': a once, b once; after 'a': b always; after 'b': '.' always
    expected = torch.tensor([[0.0, 0.5, 0.5], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert torch.allclose(log_probs.exp(), expected)
