"""The count-based bigram model: the reference row of every report."""

from __future__ import annotations

import torch

from training.data import ContextWindows


def bigram_log_probs(train: ContextWindows, vocab_size: int, smoothing: float = 1.0) -> torch.Tensor:
    """(vocab, vocab) log P(next | previous) from train counts, add-`smoothing`."""
    counts = torch.full((vocab_size, vocab_size), smoothing)
    counts.index_put_((train.x[:, -1], train.y), torch.ones(len(train)), accumulate=True)
    return (counts / counts.sum(1, keepdim=True)).log()


def bigram_loss(log_probs: torch.Tensor, windows: ContextWindows) -> float:
    """Mean nats per character, the same definition as the MLP's loss."""
    return float(-log_probs[windows.x[:, -1], windows.y].mean())
