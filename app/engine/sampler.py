"""Batched ancestral sampling over the model's precomputed per-position tables.

One round draws `n` names at once: one forward per character position for the
whole batch, finished rows retired (dropped from the batch) as they end.

Randomness: a round draws its uniforms up front, `torch.rand((steps, n),
dtype=float64, generator=g)`, and row i at step t picks its token by inverse CDF
with `u[t, i]`. Row i's name therefore depends only on the generator's seed and
the parameters, never on other rows (retired or not), and a one-name-at-a-time
reference can reproduce it exactly (see tests/test_sampler.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from app.engine.artifact import Artifact

END = 0  # the boundary token's id


@dataclass(frozen=True)
class Controls:
    """How one round samples: everything except the generator and the count."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    prefix_ids: tuple[int, ...] = ()
    min_length: int = 0  # name length including the prefix
    max_length: int = 32  # a row still going after this many characters is rejected


@dataclass(frozen=True)
class Round:
    """What one round produced, row by row."""

    names: list[str]
    log_probs: list[float]  # log p(name + end) at temperature 1, untruncated, prefix included
    rejected: list[bool]  # the row reached max_length without ending


class Sampler:
    def __init__(self, artifact: Artifact) -> None:
        self.module = artifact.module
        self.vocab = artifact.vocab
        self.block_size = artifact.block_size
        self.vocab_size = artifact.vocab_size
        with torch.inference_mode():
            tables = artifact.module.position_tables().detach()
        # Flattened so one gather fetches all block_size rows: row k*V + id is tables[k][id].
        self.tables = tables.reshape(self.block_size * self.vocab_size, -1).contiguous()
        self.offsets = torch.arange(self.block_size) * self.vocab_size

    def logits(self, context: torch.Tensor) -> torch.Tensor:
        """(B, block_size) ids -> (B, V) logits, via the tables: sum_k tables[k][context[:, k]]."""
        pre = self.tables[context + self.offsets].sum(dim=1)
        return self.module.logits_from_first_layer(pre)

    def prefix_state(self, prefix_ids: tuple[int, ...]) -> tuple[list[int], float]:
        """The context after the prefix, and log p(prefix) (the same for every row)."""
        context = [END] * self.block_size
        log_prob = 0.0
        if prefix_ids:
            contexts = []
            for token in prefix_ids:
                contexts.append(list(context))
                context = [*context[1:], token]
            with torch.inference_mode():
                logp = torch.log_softmax(self.logits(torch.tensor(contexts)).double(), dim=1)
            log_prob = float(logp[torch.arange(len(prefix_ids)), torch.tensor(prefix_ids)].sum())
        return context, log_prob

    def sample_round(self, n: int, controls: Controls, generator: torch.Generator) -> Round:
        steps = controls.max_length - len(controls.prefix_ids) + 1  # characters left, plus the end token
        uniforms = torch.rand((steps, n), dtype=torch.float64, generator=generator)
        start, prefix_log_prob = self.prefix_state(controls.prefix_ids)
        with torch.inference_mode():
            tokens, ended_at, log_probs = self._run(n, start, uniforms, controls)
        prefix = "".join(self.vocab[i] for i in controls.prefix_ids)
        names, rejected = [], []
        rows = tokens.tolist()
        for row, end_step in zip(rows, ended_at.tolist(), strict=True):
            rejected.append(end_step < 0)
            stop = end_step if end_step >= 0 else steps
            names.append(prefix + "".join(self.vocab[i] for i in row[:stop]))
        return Round(names, [prefix_log_prob + lp for lp in log_probs.tolist()], rejected)

    def _run(
        self, n: int, start: list[int], uniforms: torch.Tensor, controls: Controls
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        steps = uniforms.shape[0]
        tokens = torch.zeros((n, steps), dtype=torch.long)
        ended_at = torch.full((n,), -1, dtype=torch.long)  # step of the end token; -1: rejected (too long)
        log_probs = torch.zeros(n, dtype=torch.float64)
        context = torch.tensor([start], dtype=torch.long).repeat(n, 1)
        alive = torch.arange(n)  # original row index of each row still in the batch
        prefix_length = len(controls.prefix_ids)
        for step in range(steps):
            logits = self.logits(context).double()
            raw_logp = torch.log_softmax(logits, dim=1)
            probs = self._distribution(logits, controls, length=prefix_length + step)
            token = _inverse_cdf(probs, uniforms[step, alive])
            log_probs[alive] += raw_logp.gather(1, token[:, None]).squeeze(1)
            tokens[alive, step] = token
            ended = token == END
            ended_at[alive[ended]] = step
            going = ~ended
            if step == steps - 1 or not bool(going.any()):
                break  # rows still going at the last step are over max_length: rejected
            alive = alive[going]
            context = torch.cat([context[going, 1:], token[going, None]], dim=1)
        return tokens, ended_at, log_probs

    def _distribution(self, logits: torch.Tensor, controls: Controls, length: int) -> torch.Tensor:
        """(B, V) float64 logits -> the probabilities this step samples from: min_length, temperature, top_k, top_p."""
        scaled = logits / controls.temperature if controls.temperature != 1.0 else logits.clone()
        if length < controls.min_length:
            scaled[:, END] = -torch.inf  # too short to end yet; top_k/top_p then choose among the rest
        if controls.top_k is not None and controls.top_k < self.vocab_size:
            kth = scaled.topk(controls.top_k, dim=1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, -torch.inf)
        probs = torch.softmax(scaled, dim=1)
        if controls.top_p is not None and controls.top_p < 1.0:
            # Nucleus: keep the most probable tokens until their mass reaches top_p (the first always).
            sorted_probs, order = probs.sort(dim=1, descending=True)
            mass_before = sorted_probs.cumsum(dim=1) - sorted_probs
            keep = torch.zeros_like(probs).scatter(1, order, (mass_before < controls.top_p).double())
            probs = probs * keep
        return probs


def _inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Row i picks the first token whose cumulative mass exceeds u[i] * total (unnormalized probs)."""
    cdf = probs.cumsum(dim=1)
    target = u[:, None] * cdf[:, -1:]
    token = torch.searchsorted(cdf, target, right=True).squeeze(1)
    return token.clamp_max(probs.shape[1] - 1)
