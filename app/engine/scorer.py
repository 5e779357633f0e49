"""Per-character losses of many texts in one batched forward."""

from __future__ import annotations

import math
from typing import Any

import torch

from app.engine.artifact import Artifact

END = 0


class Scorer:
    def __init__(self, artifact: Artifact) -> None:
        self.module = artifact.module
        self.vocab = artifact.vocab
        self.block_size = artifact.block_size
        self.index = {c: i for i, c in enumerate(artifact.vocab)}

    def score_many(self, texts: list[str]) -> list[dict[str, Any]]:
        """Score already-validated texts: one entry per predicted position, the end token included.

        All texts go through one forward: rows are the (context, target) windows of every text.
        """
        if not texts:
            return []
        lengths = torch.tensor([len(t) for t in texts])
        longest = int(lengths.max())
        # Row i: block_size boundary tokens, the text's ids, then END (which is also the padding).
        padded = torch.zeros((len(texts), self.block_size + longest + 1), dtype=torch.long)
        for row, text in enumerate(texts):
            padded[row, self.block_size : self.block_size + len(text)] = torch.tensor([self.index[c] for c in text])
        contexts = padded.unfold(1, self.block_size, 1)[:, : longest + 1]  # (N, longest+1, block_size)
        targets = padded[:, self.block_size :]  # (N, longest+1)
        valid = torch.arange(longest + 1)[None, :] <= lengths[:, None]  # positions 0..len (end token)
        with torch.inference_mode():
            logits = self.module(contexts[valid])
            logp = torch.log_softmax(logits.double(), dim=1).gather(1, targets[valid][:, None]).squeeze(1)
        losses = (-logp).tolist()
        results, start = [], 0
        for text in texts:
            count = len(text) + 1
            results.append(self._result(text, losses[start : start + count]))
            start += count
        return results

    def _result(self, text: str, losses: list[float]) -> dict[str, Any]:
        chars = [
            {"char": char, "loss": loss, "prob": math.exp(-loss)}
            for char, loss in zip([*text, self.vocab[END]], losses, strict=True)
        ]
        total = sum(losses)
        mean = total / len(losses)
        return {"text": text, "chars": chars, "total_loss": total, "mean_loss": mean, "perplexity": math.exp(mean)}
