"""ConstraintSpecs compiled into Automata for one model, cached, and the 422 that says why when none can match.

The pattern's DFA comes from app.engine.patterns (a worker process); the product, guide included, from
app.engine.constraints. Everything here blocks: the engine calls it in a thread.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from app.engine.constraints import MAX_STATES, Automaton, ConstraintSpec, TooComplex, compile_automaton
from app.engine.guidance import Background
from app.engine.patterns import PatternCompiler, PatternError
from app.engine.problems import FieldProblem, InvalidInput

CACHED_AUTOMATA = 32  # automata kept, the most recently used ...
# ... while their states add up to no more than this: a state costs V int32s and max_length + 2 float64s (about
# 380 bytes for 27 tokens and 32 characters), so the cache stays under 20 MB.
CACHED_STATES = 50_000


class ConstraintCompiler:
    """ConstraintSpecs to Automata over one vocabulary, the most recently used kept (CACHED_AUTOMATA,
    CACHED_STATES). Thread-safe."""

    def __init__(
        self,
        vocab: Sequence[str],
        words: Iterable[str] = (),
        patterns: PatternCompiler | None = None,
        max_states: int = MAX_STATES,
        cached: int = CACHED_AUTOMATA,
    ) -> None:
        self.vocab = tuple(vocab)
        self.words = words
        self.patterns = patterns or PatternCompiler()
        self.max_states, self.cached = max_states, cached
        self.cache: OrderedDict[ConstraintSpec, Automaton] = OrderedDict()
        self.lock = threading.Lock()

    @functools.cached_property
    def background(self) -> Background:
        """Built from the training names when first needed (a few tens of milliseconds for 30k names)."""
        return Background.of_words(self.words, self.vocab)

    def automaton(self, spec: ConstraintSpec) -> Automaton:
        """The spec's automaton; InvalidInput saying why when no name can satisfy it, when its pattern cannot be
        compiled or when it is too complex; patterns.CompilerBusy when the pattern compiler stayed busy."""
        automaton = self._built(spec)
        if automaton.empty:
            raise InvalidInput([self._why_empty(spec)])
        return automaton

    def _built(self, spec: ConstraintSpec) -> Automaton:
        with self.lock:
            found = self.cache.get(spec)
            if found is not None:
                self.cache.move_to_end(spec)
                return found
        dfa = None
        if spec.pattern is not None:
            try:
                dfa = self.patterns.dfa(spec.pattern, self.vocab[1:])
            except PatternError as exc:
                raise InvalidInput([FieldProblem(("pattern",), str(exc), "pattern")]) from None
        try:
            automaton = compile_automaton(spec, self.vocab, dfa, self.background, self.max_states)
        except TooComplex as exc:
            where = spec.given()[-1] if spec.given() else "max_length"
            raise InvalidInput(
                [FieldProblem((where,), f"makes the constraints too complex: {exc}", "too_complex")]
            ) from None
        with self.lock:
            self.cache[spec] = automaton
            while len(self.cache) > self.cached or sum(a.states for a in self.cache.values()) > CACHED_STATES:
                self.cache.popitem(last=False)
        return automaton

    def _why_empty(self, spec: ConstraintSpec) -> FieldProblem:
        """The problem to report: a pattern or excluded letters that no name can meet alone, else the whole."""
        given = spec.given()
        for field in ("pattern", "excludes"):
            if field not in given or (len(given) > 1 and not self._built(spec.only(field)).empty):
                continue
            if field == "excludes":
                return FieldProblem(("excludes",), f"leaves no name {spec.lengths()} possible", "unsatisfiable")
            alphabet = "".join(self.vocab[1:])
            outside = self.patterns.dfa(spec.pattern or "", self.vocab[1:]).outside
            return FieldProblem(
                ("pattern",),
                f"matches no name {spec.lengths()} over the model's alphabet ({alphabet!r})"
                + (f"; the characters it names outside it never match: {''.join(outside[:20])!r}" if outside else ""),
                "unsatisfiable",
            )
        together = ": these constraints cannot all hold together" if len(given) > 1 else ""
        return FieldProblem(
            (given[-1] if given else "max_length",),
            f"no name {spec.lengths()} {spec.describe()}{together}",
            "unsatisfiable",
        )
