"""Batched ancestral sampling with a cache of per-context distributions.

One round draws many names at once (one request's, or several requests' rows side by side): each row looks up
the distribution of its context, picks its token by inverse CDF with its own uniform, and rows that drew the
end token are retired. Rows whose context is cached draw on; rows whose context is missing wait until every
row still going waits, and then all their contexts are computed in one network call (see _run).

Randomness: each request's round draws its uniforms up front, `torch.rand((steps, n), dtype=float64,
generator=g)`, and row i at step t picks the first token whose cumulative probability exceeds u[t, i] times
the total. A row's name therefore depends only on its own uniforms and its context's distribution, never on
the other rows, and a one-name-at-a-time reference reproduces it (tests/test_sampler.py).

Contexts are numbered (base vocab_size) so identical contexts are computed once. The network runs only on
contexts missing from a bounded cache, in fixed bucket sizes (4, 8, 12, 16, 24, ..., 512 rows, padded): float32 GEMM
results can change in the last bit with the batch size (BLAS picks other kernels for small M), so a fixed
set of shapes - checked to agree with each other by tests/test_network.py - makes a context's distribution
the same whoever it is batched with, whether it came from the cache or not. Everything after the network is
row-wise (log_softmax, softmax, cumsum) or exact elementwise arithmetic, so it is batch-independent too.

Constraints (suffix, contains, excludes, pattern, with the prefix and the length bounds) come as an Automaton
(app.engine.constraints): each row carries its state, and each step draws only among the tokens from which a
match is still reachable, each weighted by its guide (app.engine.guidance), renormalized. Temperature applies
to the model's part, top_k and top_p to the weighted result, so they choose among what can still match. Each
row's ln q, its probability under the distributions it was actually drawn from, is kept beside the model's
own ln p.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from app.engine.artifact import BOUNDARY_ID as END
from app.engine.artifact import Artifact
from app.engine.constraints import Automaton
from app.engine.draws import distributions, guided, tempered_log_probs, truncated
from app.engine.limits import DEFAULT_CACHE_CONTEXTS
from app.engine.network import ContextNetwork
from app.engine.requests import SampleRequest

NO_TOKEN = -1  # tokens after a row's end (never drawn)


@dataclass(frozen=True)
class Round:
    """What one round produced, row by row."""

    names: list[str]
    log_probs: list[float]  # log p(name + end) at temperature 1, untruncated, prefix included
    rejected: list[bool]  # the row reached max_length without ending
    # ln q(name + end | prefix): each step's probability in the distribution the row was drawn from (temperature,
    # top_k, top_p and masks applied, renormalized). The prefix is given, not drawn: it adds nothing.
    drawn_log_probs: list[float]
    # With an automaton: ln of the name's probability at the request's temperature, untruncated and unmasked,
    # prefix included (the target of importance resampling); None without one.
    tempered_log_probs: list[float] | None = None

    @staticmethod
    def joined(parts: Sequence[Round]) -> Round:
        """The rounds' rows one after another."""
        tempered = [p.tempered_log_probs for p in parts]
        return Round(
            [n for p in parts for n in p.names],
            [lp for p in parts for lp in p.log_probs],
            [r for p in parts for r in p.rejected],
            [lp for p in parts for lp in p.drawn_log_probs],
            None if any(t is None for t in tempered) else [lp for t in tempered for lp in t or ()],
        )


class NetworkWork(NamedTuple):
    lookups: int  # contexts looked up, one per row per step
    computed: int  # distinct contexts the network ran on (cache misses)
    seconds: float  # wall time in the network


@dataclass
class NetworkStats:
    """Running totals of the context cache's work since startup (for /metrics and the benchmarks)."""

    lookups: int = 0  # contexts looked up, one per row per step
    computed: int = 0  # distinct contexts the network ran on (cache misses)
    network_seconds: float = 0.0  # wall time in the network, first-layer tables included
    reported: tuple[int, int, float] = (0, 0, 0.0)  # the totals at the last take_unreported()

    def take_unreported(self) -> NetworkWork:
        """What the totals gained since the last call (for counters that only go up, such as Prometheus's)."""
        now = (self.lookups, self.computed, self.network_seconds)
        gained = NetworkWork(now[0] - self.reported[0], now[1] - self.reported[1], now[2] - self.reported[2])
        self.reported = now
        return gained


class Sampler:
    def __init__(
        self, artifact: Artifact, network: ContextNetwork | None = None, cache_slots: int = DEFAULT_CACHE_CONTEXTS
    ) -> None:
        self.vocab = artifact.vocab
        self.char_ids = {c: i for i, c in enumerate(artifact.vocab)}
        self.block_size = artifact.block_size
        self.vocab_size = v = artifact.vocab_size
        # The network (tables, bucket padding, parallel shares) is the one the scorer uses too: a name's log_prob
        # here is exactly its -total_loss there.
        self.network = network or ContextNetwork(artifact.module)
        # Context number: sum_k id_k * V**(block_size-1-k). Appending a token: (key % span) * V + token.
        self.span = v ** (self.block_size - 1)
        # Keys are exact: int64 while every context number fits, else Python ints (slower, still exact), so a
        # model with a large vocabulary or long context is served, never refused.
        self.key_dtype = np.dtype(np.int64) if v**self.block_size < 2**62 else np.dtype(object)
        self.powers = np.array([v**k for k in range(self.block_size - 1, -1, -1)], dtype=self.key_dtype)
        self.codepoints = np.array([0] + [ord(c) for c in self.vocab[1:]] + [0], dtype="<u4")  # [-1] = NO_TOKEN
        self.cache_keys = np.full(cache_slots, -1, dtype=self.key_dtype)
        # The network's float32 output per context (the distributions are derived from it on lookup, row by row).
        # np.full writes every page now, so the cache is resident from startup rather than growing under load.
        self.cache_logits = np.full((cache_slots, v), 0.0, dtype=np.float32)
        self.lock = threading.Lock()  # the cache is shared; one round at a time
        self.stats = NetworkStats()  # updated under self.lock, like the cache

    # -- per-context distributions --------------------------------------------------------------------------

    def network_logits(self, keys: np.ndarray) -> np.ndarray:
        """(U,) distinct context numbers -> (U, V) float32 outputs of the network (logits or log-probabilities)."""
        ids = torch.from_numpy((keys[:, None] // self.powers % self.vocab_size).astype(np.int64))
        return self.network.logits(ids).numpy()

    def cached_logits(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,) context numbers -> (B, V) network outputs from the cache, and which rows it does not have."""
        slots = (keys % len(self.cache_keys)).astype(np.int64)
        return self.cache_logits[slots], self.cache_keys[slots] != keys  # a copy: later writes cannot change it

    def computed_logits(self, keys: np.ndarray) -> np.ndarray:
        """(B,) context numbers -> (B, V) network outputs, each distinct context computed once and cached."""
        missing, where = np.unique(keys, return_inverse=True)
        started = time.perf_counter()
        computed = self.network_logits(missing)
        self.stats.network_seconds += time.perf_counter() - started
        self.stats.computed += len(missing)
        slots = (missing % len(self.cache_keys)).astype(np.int64)
        self.cache_keys[slots] = missing  # on a slot collision the last one wins, for keys and rows alike
        self.cache_logits[slots] = computed
        return computed[where.reshape(-1)]

    def rows_for(self, keys: np.ndarray) -> np.ndarray:
        """(B,) context numbers -> (B, 2V) rows, from the cache, computing (once each) what is missing."""
        logits, missed = self.cached_logits(keys)
        self.stats.lookups += len(keys)
        if missed.any():
            logits[missed] = self.computed_logits(keys[missed])
        return distributions(logits)

    def clear_cache(self) -> None:
        with self.lock:
            self.cache_keys.fill(-1)

    # -- rounds ---------------------------------------------------------------------------------------------

    def sample_round(
        self, n: int, request: SampleRequest, generator: torch.Generator, automaton: Automaton | None = None
    ) -> Round:
        return self.sample_rounds([draw_uniforms(n, request, generator)], request, automaton)[0]

    def sample_rounds(
        self, uniforms: Sequence[np.ndarray], request: SampleRequest, automaton: Automaton | None = None
    ) -> list[Round]:
        """Several blocks of rows (requests equal in `request.sampling`) side by side, each (steps, rows) block
        of uniforms giving one Round. A row's name depends only on its own column of uniforms, so a request's
        round may be split into blocks of rows, run in any batches, and give the same names. `request` is a
        normalized one (its prefix in the vocabulary); `automaton`: its constraints compiled, if it has any."""
        steps, prefix = request.steps, request.prefix
        prefix_ids = [self.char_ids[c] for c in prefix]
        with self.lock, torch.inference_mode():
            start, prefix_log_prob, prefix_tempered = self._prefix_state(prefix_ids, request.temperature)
            tokens, log_probs, drawn, tempered = self._run(start, np.concatenate(uniforms, axis=1), request, automaton)
        rejected = ~(tokens == END).any(axis=1)
        # Token ids -> characters, one fixed-width string per row; numpy drops the trailing NULs (end, unused).
        texts = self.codepoints[tokens].view(f"<U{steps}").ravel().tolist()
        names = [prefix + t for t in texts] if prefix else texts
        totals = (log_probs + prefix_log_prob).tolist()
        flags = rejected.tolist()
        drawn_totals = drawn.tolist()
        tempered_totals = None if tempered is None else (tempered + prefix_tempered).tolist()
        rounds, first = [], 0
        for block in uniforms:
            last = first + block.shape[1]
            rounds.append(
                Round(
                    names[first:last],
                    totals[first:last],
                    flags[first:last],
                    drawn_totals[first:last],
                    None if tempered_totals is None else tempered_totals[first:last],
                )
            )
            first = last
        return rounds

    def _prefix_state(self, prefix_ids: list[int], temperature: float) -> tuple[int, float, float]:
        """The context number after the prefix, log p(prefix), and the same at `temperature` (the same for every
        row)."""
        keys = [0]  # all boundary tokens
        for token in prefix_ids:
            keys.append(keys[-1] % self.span * self.vocab_size + token)
        if not prefix_ids:
            return 0, 0.0, 0.0
        rows = self.rows_for(np.array(keys[:-1], dtype=self.key_dtype))
        log_prob = float(rows[np.arange(len(prefix_ids)), list(prefix_ids)].sum())
        tempered = tempered_log_probs(rows[:, : self.vocab_size], np.array(prefix_ids), temperature).sum()
        return keys[-1], log_prob, float(tempered)

    def _run(
        self, start: int, uniforms: np.ndarray, request: SampleRequest, automaton: Automaton | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Draw every row to its end. Rows whose context is cached draw on; a row whose context is missing
        waits, and when every row still going waits, their contexts are computed in one network call. A round
        so makes about as many calls as its rows' longest run of misses, not one per character position that
        has a miss: fewer, larger calls (a call's cost is mostly fixed while it has few contexts).
        Returns the tokens, and per row ln p (temperature 1), ln q (as drawn) and, with an automaton, ln p at
        the request's temperature."""
        steps, n = uniforms.shape
        v = self.vocab_size
        tokens = np.full((n, steps), NO_TOKEN, dtype=np.int64)
        log_probs = np.zeros(n, dtype=np.float64)
        drawn_log_probs = np.zeros(n, dtype=np.float64)
        tempered = None if automaton is None else np.zeros(n, dtype=np.float64)
        states = np.full(n, 0 if automaton is None else automaton.start, dtype=np.int32)  # each row's automaton state
        keys = np.full(n, start, dtype=self.key_dtype)  # each row's context
        step = np.zeros(n, dtype=np.int64)  # each row's next position
        rows = np.arange(n)  # the rows still going
        prefix_length = len(request.prefix)
        plain = request.temperature == 1.0 and request.top_k is None and request.top_p is None
        while len(rows):
            logits, waiting = self.cached_logits(keys[rows])
            if waiting.all():  # nothing can draw on: compute the contexts of every row still going, in one call
                logits, waiting = self.computed_logits(keys[rows]), np.zeros(len(rows), dtype=bool)
            drawing = rows[~waiting]
            dist = distributions(logits[~waiting])
            self.stats.lookups += len(drawing)
            at = step[drawing]
            lengths = prefix_length + at
            probs: np.ndarray | None = None  # the drawn distribution, unnormalized (None: the model's own)
            if automaton is not None:
                weights = automaton.log_weights(states[drawing], lengths)
                probs, cdf = guided(dist[:, :v], request, lengths, weights)
                last = (cdf < cdf[:, -1:]).sum(axis=1)
            elif plain and int(lengths.min()) >= request.min_length:
                cdf = dist[:, v:]  # the CDF at temperature 1: every token has mass
                last = v - 1
            else:
                probs, cdf = truncated(dist[:, :v], request, lengths)
                last = (cdf < cdf[:, -1:]).sum(axis=1)  # the last token with mass: u * total may round up to total
            target = uniforms[at, drawing] * cdf[:, -1]
            token = np.minimum((cdf <= target[:, None]).sum(axis=1), last)
            chosen = np.arange(len(token)), token
            log_probs[drawing] += dist[chosen]
            drawn_log_probs[drawing] += dist[chosen] if probs is None else np.log(probs[chosen] / cdf[:, -1])
            if tempered is not None:
                tempered[drawing] += tempered_log_probs(dist[:, :v], token, request.temperature)
            tokens[drawing, at] = token
            step[drawing] = at + 1
            going = (token != END) & (at + 1 < steps)  # a row going past the last step is over max_length
            drawing, token = drawing[going], token[going]
            keys[drawing] = keys[drawing] % self.span * v + token
            if automaton is not None:
                states[drawing] = automaton.advance(states[drawing], token)
            rows = np.concatenate((rows[waiting], drawing))
        return tokens, log_probs, drawn_log_probs, tempered


def draw_uniforms(n: int, request: SampleRequest, generator: torch.Generator) -> np.ndarray:
    """A round's randomness, drawn up front: (steps, n) float64 uniforms, one column per row."""
    return torch.rand((request.steps, n), dtype=torch.float64, generator=generator).numpy()
