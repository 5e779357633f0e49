"""How text people type is made into text the model can read, and what is reported when it cannot.

First the text as sent is measured against a cap, a small multiple of the limit it must meet, in characters
and in UTF-8 bytes, and refused unread past it: Unicode normalization reorders a run of combining marks in
time quadratic in its length (1 MiB of them held the event loop for minutes), and below the cap a text costs
at most a few hundred microseconds. Then, in order: surrounding whitespace is stripped; the text is put in
Unicode NFC (a decomposed "José" and a composed one are the same name); then each character outside the
vocabulary is folded if a simple fold maps it in: its case changed to the vocabulary's, or its accents removed
when the vocabulary has only the plain letter. Every change is reported in a note; only characters no fold
maps in are an error.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.problems import FieldProblem, Loc

MAX_LISTED = 20  # offending characters named in one message; the rest are counted
# The cap leaves room for surrounding whitespace and decomposed accents (a letter and two marks are three
# characters, five bytes), and for no more.
RAW_CHARS_PER_LIMIT = 4
RAW_BYTES_PER_LIMIT = 8


def raw_cap(max_length: int) -> tuple[int, int]:
    """The most characters and UTF-8 bytes a text as sent may have, for a text limit of max_length."""
    return RAW_CHARS_PER_LIMIT * max_length, RAW_BYTES_PER_LIMIT * max_length


def raw_problem(text: str, loc: Loc, max_length: int) -> FieldProblem | None:
    """A text as sent that passes the cap, measured before anything reads it (length is O(1); the bytes are
    counted only below the character cap)."""
    chars, size = raw_cap(max_length)
    if len(text) > chars:
        measured = f"{len(text)} characters"
    elif (encoded := len(text.encode("utf-8", "surrogatepass"))) > size:
        measured = f"{encoded} bytes (UTF-8)"
    else:
        return None
    return FieldProblem(
        loc,
        f"has {measured} as sent; at most {chars} characters and {size} bytes are read, for a limit of "
        f"{max_length} characters after normalization",
        "too_long",
    )


@dataclass(frozen=True)
class Normalized:
    text: str
    notes: tuple[str, ...] = ()


EMPTY = Normalized("")


def without_accents(char: str) -> str:
    """'é' -> 'e', 'Å' -> 'A'; characters that are not a base letter plus marks come back unchanged."""
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


class TextRules:
    def __init__(self, vocab: Sequence[str]) -> None:
        self.allowed = frozenset(vocab[1:])  # the boundary token is never part of a text
        letters = [c for c in self.allowed if c.lower() != c.upper()]
        self.case = (
            "lower"
            if letters and all(c == c.lower() for c in letters)
            else "upper"
            if letters and all(c == c.upper() for c in letters)
            else None
        )

    def fold(self, char: str) -> str:
        """The character itself if the vocabulary has it, else its first simple fold that the vocabulary has."""
        if char in self.allowed:
            return char
        for candidate in (self._recase(char), without_accents(char), self._recase(without_accents(char))):
            if candidate in self.allowed:
                return candidate
        return char

    def _recase(self, char: str) -> str:
        if self.case == "lower":
            return char.lower()
        if self.case == "upper":
            return char.upper()
        return char

    def normalize(self, text: str, what: str) -> Normalized:
        notes = []
        stripped = text.strip()
        if stripped != text:
            notes.append(f"{what}: surrounding whitespace was removed")
        composed = unicodedata.normalize("NFC", stripped)
        if composed != stripped:
            notes.append(f"{what}: Unicode was normalized (NFC)")
        if self.allowed.issuperset(composed):  # the usual case, checked in C: nothing to fold
            return Normalized(composed, tuple(notes))
        # Each distinct character is folded once and the text translated in C: the Python work grows with the
        # characters used, not with the text's length.
        folds = {ord(c): f for c in set(composed) - self.allowed if (f := self.fold(c)) != c}
        changed = sorted(f"{chr(a)!r} -> {b!r}" for a, b in folds.items())
        if changed:
            notes.append(
                f"{what}: folded into the model's vocabulary: {', '.join(changed[:MAX_LISTED])}"
                + (f" and {len(changed) - MAX_LISTED} more" if len(changed) > MAX_LISTED else "")
            )
        return Normalized(composed.translate(folds), tuple(notes))

    def read(
        self, text: str, loc: Loc, what: str, max_length: int, allow_empty: bool = False
    ) -> tuple[Normalized, list[FieldProblem]]:
        """The one way typed text comes in: refused unread past the raw cap, else normalized and checked.
        Returns the normalized text (the text as sent when refused) and its problems."""
        if not text and allow_empty:  # most optional parameters, most of the time: nothing to read
            return EMPTY, []
        too_long = raw_problem(text, loc, max_length)
        if too_long is not None:
            return Normalized(text), [too_long]
        normalized = self.normalize(text, what)
        return normalized, self.problems(normalized.text, loc, max_length, allow_empty)

    def problems(self, text: str, loc: Loc, max_length: int, allow_empty: bool = False) -> list[FieldProblem]:
        """What makes an already-normalized text unusable: empty, too long, or characters no fold maps in."""
        if not text and not allow_empty:
            return [FieldProblem(loc, "is empty (after removing surrounding whitespace)", "empty")]
        if len(text) > max_length:
            return [FieldProblem(loc, f"has {len(text)} characters; the limit is {max_length}", "too_long")]
        bad = [(i, c) for i, c in enumerate(text) if c not in self.allowed]
        if not bad:
            return []
        vocab = "".join(sorted(self.allowed))
        more = len(bad) - MAX_LISTED
        return [
            FieldProblem(
                (*loc, i),
                f"character {c!r} at position {i} is outside the model's vocabulary ({vocab!r})",
                "outside_vocabulary",
            )
            for i, c in bad[:MAX_LISTED]
        ] + (
            [FieldProblem(loc, f"... and {more} more characters outside the vocabulary", "outside_vocabulary")]
            if more > 0
            else []
        )
