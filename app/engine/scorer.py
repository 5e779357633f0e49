"""Per-character losses of many texts in one batched forward."""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Any

import torch

from app.engine.artifact import BOUNDARY_ID as END
from app.engine.artifact import Artifact
from app.engine.network import ContextNetwork


class Scorer:
    def __init__(self, artifact: Artifact) -> None:
        self.module = artifact.module
        self.vocab = artifact.vocab
        self.block_size = artifact.block_size
        self.index = {c: i for i, c in enumerate(artifact.vocab)}
        # Ascending quantiles (0 .. 100 %) of the per-name mean loss over the reference dev names, written at
        # export (training/export.py mean_loss_quantiles); None for an artifact without them.
        quantiles = artifact.meta.get("mean_loss_quantiles")
        self.mean_loss_quantiles: list[float] | None = None
        if (
            isinstance(quantiles, list)
            and len(quantiles) >= 2
            and all(isinstance(q, int | float) and math.isfinite(q) for q in quantiles)
            and all(a <= b for a, b in itertools.pairwise(quantiles))
        ):
            self.mean_loss_quantiles = [float(q) for q in quantiles]

    def score_many(self, texts: list[str], with_next: bool = False) -> list[dict[str, Any]]:
        """Score already-validated texts: one entry per predicted position, the end token included.

        All texts go through one forward: rows are the (context, target) windows of every text. With
        `with_next`, each result also has "next_log_probs": ln p of every vocabulary entry after the text
        (the row whose target is the end token, so its entry for the end token is that position's -loss).
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
            # The sampler's own network function (tables, buckets, parallel shares), each distinct context once.
            logits = ContextNetwork.shared(self.module).distinct_logits(contexts[valid])
            all_logp = torch.log_softmax(logits.double(), dim=1)
            logp = all_logp.gather(1, targets[valid][:, None]).squeeze(1)
            # Each text's last row predicts the character after it: its whole distribution is GET /next's.
            after = all_logp[torch.cumsum(lengths + 1, 0) - 1].tolist() if with_next else []
        losses = (-logp).tolist()
        results, start = [], 0
        for i, text in enumerate(texts):
            count = len(text) + 1
            results.append(self._result(text, losses[start : start + count]))
            if with_next:
                results[-1]["next_log_probs"] = after[i]
            start += count
        return results

    def _result(self, text: str, losses: list[float]) -> dict[str, Any]:
        chars = [
            {"char": char, "loss": loss, "prob": math.exp(-loss)}
            for char, loss in zip([*text, self.vocab[END]], losses, strict=True)
        ]
        total = sum(losses)
        mean = total / len(losses)
        percentile = None
        if self.mean_loss_quantiles is not None:
            # Share (%) of dev names whose mean loss is higher than this text's: 100 minus the text's place in
            # the quantiles, linearly interpolated between the two quantiles around it, 0 or 100 outside them.
            q = self.mean_loss_quantiles
            step = 100 / (len(q) - 1)
            below = bisect.bisect_right(q, mean)  # quantiles <= mean
            if below == 0:
                at_or_below = 0.0
            elif below == len(q):
                at_or_below = 100.0
            else:
                lo, hi = q[below - 1], q[below]
                at_or_below = step * (below - 1 + (mean - lo) / (hi - lo))
            percentile = 100.0 - at_or_below
        return {
            "text": text,
            "chars": chars,
            "total_loss": total,
            "mean_loss": mean,
            "perplexity": math.exp(mean),
            "percentile": percentile,
        }
