"""Pictures written beside the artifact (app.engine.artifact.plot_file names them; GET /model/plots serves them):
the loss curve and the character embeddings."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import torch

from app.engine.artifact import plot_file
from training.data import Vocabulary
from training.model import MemberMLP, NameMLP


def write_plots(model: NameMLP, vocab: Vocabulary, history: list[dict[str, float]], out: Path) -> None:
    """Every plot of the model file `out`, beside it."""
    plot_losses(history, plot_file(out, "loss"))
    plot_embeddings(model, vocab, plot_file(out, "embeddings"))


def plot_losses(history: list[dict[str, float]], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [h["step"] for h in history]
    ax.plot(steps, [h["train_loss"] for h in history], label="train")
    ax.plot(steps, [h["dev_loss"] for h in history], label="dev")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/char)")
    ax.set_title("Training curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_embeddings(model: NameMLP, vocab: Vocabulary, out: Path) -> None:
    """Characters placed by the first two principal components of their embeddings (the first member's)."""
    member = model.members[0]
    assert isinstance(member, MemberMLP)
    weights = member.embedding.weight.detach()
    centered = weights - weights.mean(0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    xy = (centered @ v[:2].T).numpy()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(xy[:, 0], xy[:, 1], s=250, color="#d9e6f2")
    for (x, y), ch in zip(xy, vocab.chars, strict=False):
        ax.text(x, y, ch, ha="center", va="center", fontsize=11)
    ax.set_title("Character embeddings (2-D PCA)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
