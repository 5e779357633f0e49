"""Per-character losses of many texts in one batched forward; the distribution after a prefix (GET /next)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from app.engine.artifact import BOUNDARY_ID as END
from app.engine.artifact import Artifact
from app.engine.network import ContextNetwork
from app.engine.results import CharLoss, NextChar, NextChars, ScoredText


@dataclass(frozen=True, slots=True)
class ReadText:
    """A text as sent, and as read into the vocabulary (app.engine.textrules), with a note per change."""

    sent: str
    text: str
    notes: tuple[str, ...] = ()


class Scorer:
    def __init__(self, artifact: Artifact, network: ContextNetwork | None = None, name: str | None = None) -> None:
        self.name = name or artifact.path.stem  # the model's name in results
        self.vocab = artifact.vocab
        self.block_size = artifact.block_size
        self.index = {c: i for i, c in enumerate(artifact.vocab)}
        # The sampler's network (tables, buckets, parallel shares): a name's -total_loss is its log_prob there.
        self.network = network or ContextNetwork(artifact.module)
        # Ascending quantiles (0 .. 100 %) of the per-name mean loss over the reference dev names, written at
        # export and checked at load (app/engine/artifact_meta.py); None for an artifact without them.
        quantiles = artifact.meta.mean_loss_quantiles
        self.mean_loss_quantiles = None if quantiles is None else [float(q) for q in quantiles]

    def score_many(self, texts: Sequence[str | ReadText]) -> list[ScoredText]:
        """Score texts already read into the vocabulary (a plain string: read as sent): one CharLoss per
        predicted position, the end token included."""
        read = [t if isinstance(t, ReadText) else ReadText(t, t) for t in texts]
        losses, _ = self._losses([r.text for r in read], after=False)
        return [self._scored(r, text_losses) for r, text_losses in zip(read, losses, strict=True)]

    def next_chars_many(self, prefixes: Sequence[ReadText], tops: Sequence[int | None]) -> list[NextChars]:
        """Each prefix's distribution over the next character, most likely first (ties in vocabulary order), at
        most `top` of them, and ln p of the prefix as a name's start."""
        losses, after = self._losses([p.text for p in prefixes], after=True)
        results = []
        for prefix, top, prefix_losses, log_probs in zip(prefixes, tops, losses, after, strict=True):
            order = sorted(range(len(self.vocab)), key=lambda c: (-log_probs[c], c))[:top]
            results.append(
                NextChars(
                    self.name,
                    prefix.text,
                    prefix.sent,
                    prefix.sent != prefix.text,
                    list(prefix.notes),
                    # The scored positions but the last (the end token's): the prefix as a name's beginning.
                    -sum(prefix_losses[:-1]),
                    [NextChar(self.vocab[c], math.exp(log_probs[c]), -log_probs[c]) for c in order],
                )
            )
        return results

    def _losses(self, texts: list[str], after: bool) -> tuple[list[list[float]], list[list[float]]]:
        """Each text's per-position losses (the end token's last) in one forward: rows are the (context, target)
        windows of every text. With `after`, also ln p of every vocabulary entry after each text (the row whose
        target is the end token)."""
        if not texts:
            return [], []
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
            logits = self.network.distinct_logits(contexts[valid])  # each distinct context once
            all_logp = torch.log_softmax(logits.double(), dim=1)
            logp = all_logp.gather(1, targets[valid][:, None]).squeeze(1)
            following = all_logp[torch.cumsum(lengths + 1, 0) - 1].tolist() if after else []
        flat = (-logp).tolist()
        losses, start = [], 0
        for text in texts:
            losses.append(flat[start : start + len(text) + 1])
            start += len(text) + 1
        return losses, following

    def _scored(self, read: ReadText, losses: list[float]) -> ScoredText:
        text = read.text
        chars = [
            CharLoss(char, loss, math.exp(-loss)) for char, loss in zip([*text, self.vocab[END]], losses, strict=True)
        ]
        total = sum(losses)
        mean = total / len(losses)
        return ScoredText(
            self.name,
            text,
            chars,
            total,
            mean,
            math.exp(mean),
            self._percentile(mean),
            read.sent,
            read.sent != text,
            list(read.notes),
        )

    def _percentile(self, mean: float) -> float | None:
        """The share (%) of dev names whose mean loss is higher than `mean`: 100 minus its place in the
        quantiles, linearly interpolated between the two quantiles around it, 0 or 100 outside them."""
        if self.mean_loss_quantiles is None:
            return None
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
        return 100.0 - at_or_below
