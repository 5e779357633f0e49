"""Choosing a request's names among more candidates than it asked for: `exact` and `similar_to`.

exact: guided masking draws name x with probability q(x), which is not the model's distribution conditioned on
the constraints, p(x | C) = p(x) [x in C] / p(C): each step is renormalized over what can still match, weighted
by the guide's estimate (app.engine.guidance), not the model's own look ahead. Sampling importance resampling
corrects it: draw M candidates from q, weigh each by w = p(x) / q(x) (both known exactly, per name), and draw
the names from the candidates with probability proportional to w. The result tends to p(x | C) as M grows; the
effective sample size (sum w)**2 / sum w**2 says how many of the M draws the weights really use.

similar_to: the candidates closest to a word by Damerau-Levenshtein distance (insertions, deletions,
substitutions and transpositions of adjacent characters, each 1; rapidfuzz's unrestricted distance), ties in
the order drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz.distance import DamerauLevenshtein


def importance_weights(target_log_probs: Sequence[float], proposal_log_probs: Sequence[float]) -> np.ndarray:
    """Self-normalized weights p/q (they sum to 1), computed in log space."""
    log_w = np.asarray(target_log_probs, dtype=np.float64) - np.asarray(proposal_log_probs, dtype=np.float64)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    return float(1.0 / np.square(weights).sum()) if len(weights) else 0.0


def resample(names: Sequence[str], weights: np.ndarray, k: int, unique: bool, rng: np.random.Generator) -> list[int]:
    """Indices of k candidates drawn with probability `weights`. With `unique`, one per name: a name's weight is
    the sum over its copies, and names are drawn without replacement (fewer than k if fewer have weight)."""
    if not len(names):
        return []
    if not unique:
        return [int(i) for i in rng.choice(len(names), size=k, replace=True, p=weights)]
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        first.setdefault(name, i)
    representatives = list(first.values())
    index_of = {name: j for j, name in enumerate(first)}
    totals = np.zeros(len(representatives))
    np.add.at(totals, [index_of[name] for name in names], weights)
    size = min(k, int(np.count_nonzero(totals)))
    chosen = rng.choice(len(representatives), size=size, replace=False, p=totals / totals.sum())
    return [representatives[int(j)] for j in chosen]


def distances(names: Sequence[str], word: str) -> list[int]:
    return [int(DamerauLevenshtein.distance(name, word)) for name in names]


def closest(names: Sequence[str], word: str, k: int) -> list[int]:
    """Indices of the k names closest to `word`, closest first; ties keep the order of `names`."""
    d = distances(names, word)
    return sorted(range(len(names)), key=lambda i: d[i])[:k]
