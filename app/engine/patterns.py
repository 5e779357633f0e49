"""GET /sample's `pattern`: a regular expression checked against the supported subset, then compiled to a DFA.

The syntax is Python's `re` (checked by re.compile, whose messages name the position). The whole name must
match: anchors are implicit, so a leading ^ and a trailing $ are allowed and change nothing. Not supported,
because a finite automaton over the characters so far cannot express them: backreferences, lookahead and
lookbehind, other anchors and word boundaries (\\b \\B \\A \\Z), atomic groups, possessive quantifiers and
conditionals. The pattern is used as sent: no case folding (in a regular expression, "[^A-Z]" and "\\W" mean
something else once folded), so it is written in the model's own characters.

The DFA is interegular's, built in a worker process limited to COMPILE_CPU_SECONDS of compute (its own CPU
time, so the bound does not tighten when the machine is busy) and 512 MiB (app/engine/pattern_worker.py), one
worker at a time per server process; results, errors included, are cached, so a pattern costs its compilation
once.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

MAX_PATTERN_LENGTH = 200  # characters, checked before anything reads the pattern
COMPILE_CPU_SECONDS = 1  # a worker that computes longer is killed: the pattern is "too complex"
# A worker not done after this much wall time is killed too, but the machine is to blame, not the pattern.
COMPILE_WALL_SECONDS = 10.0
MAX_PATTERN_STATES = 10_000  # states of the pattern's own DFA over the model's alphabet
CACHED_PATTERNS = 64
WAIT_SECONDS = 5.0  # how long a compilation waits for the worker slot before the server says it is busy
WORKER = Path(__file__).with_name("pattern_worker.py")
SLOTS = threading.BoundedSemaphore(1)  # worker processes at once, per server process: each takes a core

QUANTIFIER_END = "*+?}"
FORBIDDEN_ESCAPES = {
    "b": "word boundaries (\\b)",
    "B": "word boundaries (\\B)",
    "A": "anchors (\\A)",
    "Z": "anchors (\\Z)",
    "z": "anchors (\\z)",
    "G": "anchors (\\G)",
}
FORBIDDEN_GROUPS = {
    "(?=": "lookahead",
    "(?!": "lookahead",
    "(?<=": "lookbehind",
    "(?<!": "lookbehind",
    "(?P=": "backreferences",
    "(?>": "atomic groups",
    "(?(": "conditionals",
}


class PatternError(ValueError):
    """The pattern cannot be used; the message completes "pattern ..." and says why."""


class CompilerBusy(Exception):
    """Another pattern is being compiled and this one waited too long for its turn."""


@dataclass(frozen=True)
class PatternDFA:
    """A pattern's DFA over an alphabet: state 0 is the initial one; transitions[s][i] is the state after the
    alphabet's i-th character, -1 where no match is possible any more."""

    transitions: tuple[tuple[int, ...], ...]
    finals: tuple[bool, ...]
    outside: tuple[str, ...]  # characters the pattern names that the alphabet lacks: they never match


def checked_pattern(pattern: str) -> str:
    """The pattern to compile (a leading ^ and a trailing $ removed), or PatternError: too long, invalid syntax,
    or a feature outside the supported subset (named, with its position)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"has {len(pattern)} characters; the limit is {MAX_PATTERN_LENGTH}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "[[:alpha:]]": re warns that it may change meaning
            re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"is not a valid regular expression: {exc.msg} at position {exc.pos}") from None
    except Warning as exc:
        raise PatternError(f"is ambiguous: {exc}") from None
    except (OverflowError, RecursionError) as exc:
        raise PatternError(f"is not a valid regular expression: {exc}") from None
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("$") and not escaped(body, len(body) - 1):
        body = body[:-1]
    problem = unsupported(body)
    if problem is not None:
        what, at = problem
        shift = 1 if pattern.startswith("^") else 0  # positions are the pattern's as sent
        raise PatternError(
            f"uses {what} at position {at + shift}: not supported (the whole name must match, and an automaton "
            "over its characters cannot express backreferences, lookaround, inner anchors, atomic groups, "
            "possessive quantifiers or conditionals)"
        )
    return body


def escaped(text: str, at: int) -> bool:
    """Whether text[at] is escaped (preceded by an odd number of backslashes)."""
    slashes = len(text[:at]) - len(text[:at].rstrip("\\"))
    return slashes % 2 == 1


def unsupported(pattern: str) -> tuple[str, int] | None:
    """The first unsupported feature of a syntactically valid pattern, with its position, or None."""
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            following = pattern[i + 1 : i + 2]
            if not in_class and following in FORBIDDEN_ESCAPES:
                return FORBIDDEN_ESCAPES[following], i
            if not in_class and following.isdigit() and following != "0":
                return "backreferences", i
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1
            i += pattern[i : i + 1] == "^"  # "[^]...]" and "[]...]": a "]" first is a member, not the end
            i += pattern[i : i + 1] == "]"
            continue
        elif c == "(":
            for opening, what in FORBIDDEN_GROUPS.items():
                if pattern.startswith(opening, i):
                    return what, i
        elif c in "^$":
            return "anchors (^ or $ inside the pattern)", i
        elif c == "+" and i and pattern[i - 1] in QUANTIFIER_END and quantified(pattern, i - 1):
            return "possessive quantifiers", i
        i += 1
    return None


def quantified(pattern: str, at: int) -> bool:
    """Whether pattern[at] (one of * + ? }) ends a quantifier rather than being a literal or a lazy mark."""
    if escaped(pattern, at):
        return False
    if pattern[at] == "}":
        return re.search(r"\{\d*,?\d*\}$", pattern[: at + 1]) is not None
    return True


class PatternCompiler:
    """Patterns to DFAs over one alphabet at a time, each compiled once (results and errors cached)."""

    def __init__(
        self,
        cpu_seconds: int = COMPILE_CPU_SECONDS,
        max_states: int = MAX_PATTERN_STATES,
        cached: int = CACHED_PATTERNS,
    ) -> None:
        self.cpu_seconds, self.max_states, self.cached = cpu_seconds, max_states, cached
        self.cache: OrderedDict[tuple[str, tuple[str, ...]], PatternDFA | PatternError] = OrderedDict()
        self.lock = threading.Lock()

    def dfa(self, pattern: str, alphabet: tuple[str, ...]) -> PatternDFA:
        """The DFA of a pattern checked by checked_pattern(); PatternError if it cannot be built, CompilerBusy
        if the worker slot stayed taken or the machine too busy to finish. Blocks: call it off the event loop."""
        key = (pattern, alphabet)
        with self.lock:
            found = self.cache.get(key)
            if found is not None:
                self.cache.move_to_end(key)
        if found is None:
            found = self._compile(pattern, alphabet)
            with self.lock:
                self.cache[key] = found
                while len(self.cache) > self.cached:
                    self.cache.popitem(last=False)
        if isinstance(found, PatternError):
            raise found
        return found

    def _compile(self, pattern: str, alphabet: tuple[str, ...]) -> PatternDFA | PatternError:
        request = {"pattern": pattern, "alphabet": list(alphabet), "max_states": self.max_states}
        if not SLOTS.acquire(timeout=WAIT_SECONDS):
            raise CompilerBusy("another pattern is being compiled; retry in a moment")
        try:
            done = subprocess.run(
                [sys.executable, str(WORKER)],
                input=json.dumps({**request, "cpu_seconds": self.cpu_seconds}).encode(),
                capture_output=True,
                timeout=COMPILE_WALL_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CompilerBusy("the pattern compiler is slowed down by other work; retry in a moment") from None
        finally:
            SLOTS.release()
        if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            return PatternError(f"is too complex: its automaton was not built within {self.cpu_seconds} s of compute")
        try:
            result = json.loads(done.stdout)
        except ValueError:
            return PatternError(f"could not be compiled (the compiler exited with status {done.returncode})")
        if "error" in result:
            return PatternError(result["error"])
        return PatternDFA(
            tuple(tuple(row) for row in result["transitions"]), tuple(result["finals"]), tuple(result["outside"])
        )
