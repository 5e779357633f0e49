"""What one sampling step draws from: a context's distribution with the request's temperature, truncation
(top_k, top_p), minimum length and an automaton's guide applied. Row-wise, so a row's draw never depends on
the rows it is batched with (app.engine.sampler)."""

from __future__ import annotations

import numpy as np
import torch

from app.engine.artifact import BOUNDARY_ID as END
from app.engine.requests import SampleRequest


def guided(
    log_probs: np.ndarray, request: SampleRequest, lengths: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Like truncated, with an automaton's log-weights; at temperature 1 without top_k or top_p, in numpy alone."""
    if request.temperature != 1.0 or request.top_k is not None or request.top_p is not None:
        return truncated(log_probs, request, lengths, weights)
    scores = log_probs + weights  # -inf where nothing can match any more
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))  # the best allowed token at 1: never all 0
    return probs, np.cumsum(probs, axis=1)


def truncated(
    log_probs: np.ndarray, request: SampleRequest, lengths: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(B, V) temperature-1 log-probs, and each row's name length so far -> the probabilities to draw from and
    their CDFs (both unnormalized). `weights`: an automaton's log-weights (-inf: not allowed).

    Tokens a constraint forbids are removed before anything else, so no temperature can bring them back: the
    likeliest allowed token is shifted to 0 and a tiny temperature sends the others to -inf (greedy among the
    allowed), never all of them. Same softmax as logits / temperature.
    """
    allowed = np.array(log_probs)
    allowed[lengths < request.min_length, END] = -np.inf  # too short to end yet
    if weights is not None:
        allowed[np.isneginf(weights)] = -np.inf
    with np.errstate(over="ignore", invalid="ignore"):
        shifted = (allowed - allowed.max(axis=1, keepdims=True)) / request.temperature
        if weights is not None:  # the guide weighs the tempered model: it stands for a probability, not a logit
            shifted = np.where(np.isneginf(shifted), -np.inf, shifted + weights)
            shifted -= shifted.max(axis=1, keepdims=True)
        scaled = torch.from_numpy(shifted)
    if request.top_k is not None and request.top_k < log_probs.shape[1]:
        kth = scaled.topk(request.top_k, dim=1).values[:, -1:]
        scaled.masked_fill_(scaled < kth, -torch.inf)
    probs = torch.softmax(scaled, dim=1)
    if request.top_p is not None and request.top_p < 1.0:
        # Nucleus: keep the most probable tokens until their mass reaches top_p (the first always).
        sorted_probs, order = probs.sort(dim=1, descending=True, stable=True)
        mass_before = sorted_probs.cumsum(dim=1) - sorted_probs
        probs = probs * torch.zeros_like(probs).scatter_(1, order, (mass_before < request.top_p).double())
    return probs.numpy(), probs.cumsum(dim=1).numpy()


def tempered_log_probs(log_probs: np.ndarray, tokens: np.ndarray, temperature: float) -> np.ndarray:
    """(B, V) temperature-1 log-probs and (B,) tokens -> each token's ln probability at `temperature`."""
    if temperature == 1.0:
        return log_probs[np.arange(len(tokens)), tokens]
    with np.errstate(over="ignore"):  # a tiny temperature sends all but the top token to -inf, as it should
        scaled = (log_probs - log_probs.max(axis=1, keepdims=True)) / temperature
    return scaled[np.arange(len(tokens)), tokens] - np.log(np.exp(scaled).sum(axis=1))


def distributions(logits: np.ndarray) -> np.ndarray:
    """(B, V) float32 network outputs -> (B, 2V) float64 [log_softmax | cumsum(exp(x - max))], row by row.

    The CDF is left unnormalized (its last column is the total): the sampler scales its uniforms by it.
    """
    x = logits.astype(np.float64)
    x -= x.max(axis=1, keepdims=True)
    e = np.exp(x)
    cdf = np.cumsum(e, axis=1)
    return np.concatenate([x - np.log(cdf[:, -1:]), cdf], axis=1)
