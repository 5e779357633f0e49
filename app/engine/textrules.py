"""How user text is normalized and checked against the model's vocabulary.

Rule: text is stripped of surrounding whitespace; it is lower-cased only when the
vocabulary has no upper-case letters (a model trained on mixed-case data keeps
the case the user typed). Responses always show the text actually used.
"""

from __future__ import annotations

from collections.abc import Sequence


class InvalidInput(ValueError):
    """Bad user input; the message says what is wrong and is safe to show (HTTP 422, CLI exit 2)."""


class TextRules:
    def __init__(self, vocab: Sequence[str]) -> None:
        self.boundary = vocab[0]
        self.allowed = frozenset(vocab[1:])  # the boundary token is never part of a text
        self.lowercase = not any(c != c.lower() for c in vocab)

    def normalize(self, text: str) -> str:
        text = text.strip()
        return text.lower() if self.lowercase else text

    def outside_vocab(self, text: str) -> list[tuple[int, str]]:
        return [(i, c) for i, c in enumerate(text) if c not in self.allowed]

    def check(self, text: str, what: str, max_length: int, allow_empty: bool = False) -> None:
        """Raise InvalidInput naming every character outside the vocabulary and its position."""
        if not text and not allow_empty:
            raise InvalidInput(f"{what} is empty (after stripping whitespace)")
        if len(text) > max_length:
            raise InvalidInput(f"{what} has {len(text)} characters; the limit is {max_length}")
        bad = self.outside_vocab(text)
        if bad:
            listed = ", ".join(f"{c!r} at position {i}" for i, c in bad[:20])
            more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
            raise InvalidInput(
                f"{what} {text!r} has characters outside the model's vocabulary: {listed}{more} "
                f"(positions count from 0 in the normalized text; the vocabulary is {''.join(sorted(self.allowed))!r})"
            )
