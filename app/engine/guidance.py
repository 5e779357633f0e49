"""How likely a name can still meet its constraints from here: the weights that guide constrained sampling.

Masking alone (draw only what can still match, renormalized) hands the mass the model puts on what is masked
to everything else in proportion. Its worst case is the end token: with `suffix=son`, whenever the model would
end a name that does not end in "son" yet, its wish to end is spread over all the letters, and the name runs
on until max_length forces "son" in; the names come out 32 characters long, unlike any name, and slow (every
context new). The model's distribution conditioned on the constraints weighs each character c instead by the
probability that a name going on with c meets them: p(c | s, C) = p(c | s) P(C | s c) / P(C | s).

P(C | s c) would take the model's own look ahead. Guidance estimates it with a background model simple enough
to solve exactly over the automaton: characters drawn independently with their frequencies in the training
names, a name of t characters ending with the training names' hazard at t (how many of the names at least t
long are exactly t), not before min_length and always at max_length. psi[t, q], the background's probability
of being accepted from state q at length t, fills backwards like the automaton's live table; it is positive
exactly where a match is reachable, so the weights are the mask and more. The sampler draws c with probability
proportional to p(c | s) psi[t + 1, q'] (the end token: p(end | s), in an accepting state within the bounds),
and reports that probability per name (constrained_log_prob), which importance resampling corrects towards
the model's own conditional (app.engine.selection).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

END = 0
HAZARD_BOUNDS = (0.01, 0.99)  # the background's end hazard, kept off 0 and 1 so psi > 0 wherever a match is
FALLBACK_HAZARD = 0.15  # without training names: about one name in six or seven ends at each length


@dataclass(frozen=True, eq=False)
class Background:
    """Characters independent with probabilities exp(log_chars) (END: -inf); a name of t characters ends with
    probability hazards[min(t, len - 1)]."""

    log_chars: np.ndarray  # (V,) float64
    hazards: np.ndarray  # (H,) float64, within HAZARD_BOUNDS

    @classmethod
    def of_words(cls, words: Iterable[str], vocab: Sequence[str]) -> Background:
        """From training names: character frequencies (add-one, so every character has some) and end hazards."""
        words = list(words)
        chars = Counter("".join(words))  # counted in C
        counts = np.array([0.0] + [chars[c] + 1.0 for c in vocab[1:]])
        if words:
            ending = np.bincount(np.fromiter(map(len, words), dtype=np.int64, count=len(words))).astype(np.float64)
            at_least = np.cumsum(ending[::-1])[::-1]  # names at least t long
            hazards = np.append(ending / at_least, HAZARD_BOUNDS[1])  # past the longest name: ends at once
        else:
            hazards = np.array([FALLBACK_HAZARD])
        with np.errstate(divide="ignore"):
            log_chars = np.log(counts / counts.sum())
        return cls(log_chars, np.clip(hazards, *HAZARD_BOUNDS))

    def hazard(self, length: int) -> float:
        return float(self.hazards[min(length, len(self.hazards) - 1)])


def guide_table(
    transitions: np.ndarray, accepting: np.ndarray, min_length: int, max_length: int, background: Background
) -> np.ndarray:
    """(max_length + 2, S) ln psi: ln P(accepted | state q at length t) under the background, -inf where no
    match is reachable. Row max_length + 1 (one character too many) is all -inf."""
    states = len(accepting)
    log_psi = np.full((max_length + 2, states), -np.inf)
    log_accept = np.where(accepting, 0.0, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(max_length, -1, -1):
            end = 0.0 if t < min_length else 1.0 if t == max_length else background.hazard(t)
            going = log_psi[t + 1][transitions] + background.log_chars  # (S, V): by each character
            top = going.max(axis=1)
            safe = np.where(np.isfinite(top), top, 0.0)
            go_on = np.log(np.exp(going - safe[:, None]).sum(axis=1)) + safe
            log_psi[t] = np.logaddexp(np.log(end) + log_accept, np.log1p(-end) + go_on)
    return log_psi
