"""What every name of a request must satisfy, compiled into one finite automaton over the model's vocabulary.

A ConstraintSpec (prefix, suffix, contains, excluded letters, a pattern, length bounds) becomes an Automaton:
the product of the pattern's DFA (app.engine.patterns), a Knuth-Morris-Pratt automaton for the suffix (which
of its beginnings the name ends with now) and one for `contains` (how much of it was seen, absorbing once
found), with excluded letters leading nowhere. The prefix is read through it first: the automaton starts after
the prefix, as the sampler does. Only states reachable within max_length characters are built, at most
MAX_STATES of them.

Then, for every state and every length so far, how likely the name can still be finished: guide[t, q], the
log-probability that a name now t characters long in state q is completed into one that is accepted within the
length bounds, under a background model of names (app.engine.guidance); -inf exactly where no completion is
left. The sampler weighs each step with it (app.engine.sampler): a character is allowed when the state it leads
to is live at the next length, weighted by that state's guide; the end token only when the state accepts and
the length is within the bounds. Weights apply to the model's distribution after it comes from the sampler's
cache, so the cache serves constrained requests too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.engine.guidance import Background, guide_table
from app.engine.patterns import PatternDFA

END = 0  # the vocabulary's boundary token: ends a name
DEAD = 0  # the automaton's state from which nothing can be accepted (every transition leads back to it)
MAX_STATES = 10_000
FIELDS = ("prefix", "suffix", "contains", "excludes", "pattern")  # a ConstraintSpec's constraints, as named in a 422


class TooComplex(ValueError):
    """The constraints' automaton would have more than MAX_STATES states."""


@dataclass(frozen=True)
class ConstraintSpec:
    """Constraints on a whole name, in the model's own characters (already normalized and checked)."""

    prefix: str = ""
    suffix: str = ""
    contains: str = ""
    excludes: frozenset[str] = frozenset()
    pattern: str | None = None  # as checked by app.engine.patterns.checked_pattern
    min_length: int = 1
    max_length: int = 32

    def only(self, field: str) -> ConstraintSpec:
        """This spec's length bounds with only one of its constraints."""
        return replace(
            ConstraintSpec(min_length=self.min_length, max_length=self.max_length), **{field: getattr(self, field)}
        )

    def given(self) -> list[str]:
        """The constraints this spec sets, in FIELDS order."""
        # An empty pattern is given (it matches only the empty name); empty texts and no letters are not.
        return [f for f in FIELDS if (self.pattern is not None if f == "pattern" else bool(getattr(self, f)))]

    def lengths(self) -> str:
        if self.min_length == self.max_length:
            return f"of exactly {self.max_length} characters"
        return f"of {self.min_length} to {self.max_length} characters"

    def describe(self) -> str:
        """'starts with "ka", ends with "son" and matches "k.*"'"""
        parts = [
            f"starts with {self.prefix!r}" if self.prefix else "",
            f"ends with {self.suffix!r}" if self.suffix else "",
            f"contains {self.contains!r}" if self.contains else "",
            f"avoids {''.join(sorted(self.excludes))!r}" if self.excludes else "",
            f"matches {self.pattern!r}" if self.pattern is not None else "",
        ]
        said = [p for p in parts if p]
        return " and ".join(said) if len(said) < 3 else ", ".join(said[:-1]) + " and " + said[-1]


@dataclass(frozen=True, eq=False)  # hashed by identity: the scheduler groups rounds by their automaton
class Automaton:
    """States 0 (DEAD) … S-1 over the vocabulary's tokens (column END: the end token, handled by `accepting`)."""

    transitions: np.ndarray  # (S, V) int32: the state after each token
    accepting: np.ndarray  # (S,) bool
    guide: np.ndarray  # (max_length + 2, S) float64: guide[t, q], see the module docstring
    start: int  # the state after the prefix
    prefix_length: int
    min_length: int
    max_length: int

    @property
    def live(self) -> np.ndarray:
        """(max_length + 2, S) bool: a name t characters long in state q can still be completed."""
        return np.isfinite(self.guide)

    @property
    def empty(self) -> bool:
        """No name satisfies the constraints."""
        return not np.isfinite(self.guide[self.prefix_length, self.start])

    @property
    def states(self) -> int:
        return int(self.transitions.shape[0])

    def log_weights(self, states: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(B,) states and name lengths so far -> (B, V) float64: each token's guide weight, -inf for the tokens
        after which no match is reachable within max_length; the end token 0 in an accepting state within the
        length bounds, else -inf."""
        weights = self.guide[lengths[:, None] + 1, self.transitions[states]]
        ending = self.accepting[states] & (lengths >= self.min_length) & (lengths <= self.max_length)
        weights[:, END] = np.where(ending, 0.0, -np.inf)
        return weights

    def allowed(self, states: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(B, V) bool: the tokens the sampler may draw (those with a finite weight)."""
        return np.isfinite(self.log_weights(states, lengths))

    def advance(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        return self.transitions[states, tokens]

    def accepts(self, token_ids: Sequence[int]) -> bool:
        """Whether the name with these tokens after the prefix satisfies every constraint."""
        state = self.start
        for token in token_ids:
            state = int(self.transitions[state, token])
        length = self.prefix_length + len(token_ids)
        return bool(self.accepting[state]) and self.min_length <= length <= self.max_length


def word_automaton(word: Sequence[int], vocab_size: int, absorbing: bool) -> np.ndarray:
    """Knuth-Morris-Pratt: (len(word) + 1, V) int32, the state being the length of the longest beginning of
    `word` that the text read so far ends with. `absorbing`: once the whole word is read, stay there (contains);
    otherwise fall back as the failure function says (ends with)."""
    m = len(word)
    delta = np.zeros((m + 1, vocab_size), dtype=np.int32)
    if m == 0:
        return delta
    delta[0, word[0]] = 1
    fallback = 0  # the state reached by reading word[1:j]: where state j falls back to
    for j in range(1, m + 1):
        delta[j] = delta[fallback]
        if j < m:
            delta[j, word[j]] = j + 1
            fallback = int(delta[fallback, word[j]])
    if absorbing:
        delta[m] = m
    return delta


def compile_automaton(
    spec: ConstraintSpec,
    vocab: Sequence[str],
    pattern: PatternDFA | None,
    background: Background,
    max_states: int = MAX_STATES,
) -> Automaton:
    """The automaton of `spec` over `vocab` (index 0 the end token). `pattern`: the DFA of spec.pattern over
    vocab[1:]; `background`: what the guide is computed under. TooComplex past max_states; an unsatisfiable spec
    gives an automaton whose `empty` is true."""
    v = len(vocab)
    ids = {c: i for i, c in enumerate(vocab)}
    if pattern is None:  # one accepting state that reads anything
        pattern = PatternDFA(((0,) * (v - 1),), (True,), ())
    pattern_moves = np.array(pattern.transitions, dtype=np.int32).reshape(-1, v - 1)
    pattern_moves = np.concatenate([np.full((len(pattern_moves), 1), -1, np.int32), pattern_moves], axis=1)
    pattern_finals = np.array(pattern.finals, dtype=bool)
    suffix = word_automaton([ids[c] for c in spec.suffix], v, absorbing=False)
    contains = word_automaton([ids[c] for c in spec.contains], v, absorbing=True)
    blocked = np.zeros(v, dtype=bool)
    blocked[END] = True
    blocked[[ids[c] for c in spec.excludes]] = True

    def successors(state: tuple[int, int, int]) -> list[tuple[int, int, int] | None]:
        p, s, c = state
        targets = pattern_moves[p]
        return [
            None if blocked[t] or targets[t] < 0 else (int(targets[t]), int(suffix[s, t]), int(contains[c, t]))
            for t in range(v)
        ]

    state: tuple[int, int, int] | None = (0, 0, 0)
    for char in spec.prefix:
        assert state is not None
        state = successors(state)[ids[char]]
        if state is None:  # the prefix already breaks a constraint: nothing is live
            return automaton_of(np.zeros((1, v), dtype=np.int32), np.zeros(1, dtype=bool), DEAD, spec, background)

    assert state is not None
    number = {state: 1}  # 0 is DEAD
    found = [state]
    rows: list[list[int]] = []
    depth_of = [0]
    depth_left = spec.max_length - len(spec.prefix)
    for index, current in enumerate(found):  # breadth first, so a state's depth is its shortest distance
        row = [DEAD] * v
        if depth_of[index] < depth_left:  # at max_length no character may follow: its moves stay DEAD
            for token, target in enumerate(successors(current)):
                if target is None:
                    continue
                if target not in number:
                    if len(found) + 1 >= max_states:
                        raise TooComplex(f"the constraints' automaton has more than {max_states} states")
                    number[target] = len(found) + 1
                    found.append(target)
                    depth_of.append(depth_of[index] + 1)
                row[token] = number[target]
        rows.append(row)
    transitions = np.array([[DEAD] * v, *rows], dtype=np.int32)
    accepting = np.array(
        [False] + [bool(pattern_finals[p]) and s == len(spec.suffix) and c == len(spec.contains) for p, s, c in found]
    )
    return automaton_of(transitions, accepting, 1, spec, background)


def automaton_of(
    transitions: np.ndarray, accepting: np.ndarray, start: int, spec: ConstraintSpec, background: Background
) -> Automaton:
    guide = guide_table(transitions, accepting, spec.min_length, spec.max_length, background)
    return Automaton(transitions, accepting, guide, start, len(spec.prefix), spec.min_length, spec.max_length)
