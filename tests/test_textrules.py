"""How typed text becomes model text: nothing past the raw cap is read; then strip, NFC, simple folds into the
vocabulary, each change noted; what no fold maps in is a problem naming the character and its position."""

from __future__ import annotations

import unicodedata

import pytest

from app.engine.problems import FieldProblem
from app.engine.textrules import Normalized, TextRules, raw_cap, raw_problem

LOWER = TextRules([".", "a", "b", "e", "j", "o", "s"])
UPPER = TextRules([".", "A", "H", "I", "M", "S", "T"])
MIXED = TextRules([".", "A", "a", "b", "é"])


def test_text_already_in_the_vocabulary_is_unchanged_and_unnoted() -> None:
    assert LOWER.normalize("jose", "text") == Normalized("jose", ())


def test_surrounding_whitespace_is_stripped_with_a_note() -> None:
    result = LOWER.normalize("  jose\t", "text")
    assert (result.text, result.notes) == ("jose", ("text: surrounding whitespace was removed",))


def test_nfc_change_is_noted() -> None:
    result = MIXED.normalize(unicodedata.normalize("NFD", "bé"), "text")
    assert result.text == "bé" and result.notes == ("text: Unicode was normalized (NFC)",)


def test_upper_case_folds_into_a_lower_case_vocabulary() -> None:
    result = LOWER.normalize("Jose", "text")
    assert (result.text, result.notes) == ("jose", ("text: folded into the model's vocabulary: 'J' -> 'j'",))


def test_lower_case_folds_into_an_upper_case_vocabulary() -> None:
    result = UPPER.normalize("smith", "text")
    assert result.text == "SMITH"
    assert result.notes == (
        "text: folded into the model's vocabulary: 'h' -> 'H', 'i' -> 'I', 'm' -> 'M', 's' -> 'S', 't' -> 'T'",
    )


def test_accents_fold_when_the_vocabulary_has_only_the_plain_letter() -> None:
    result = LOWER.normalize("José", "text")
    assert result.text == "jose"
    assert result.notes == ("text: folded into the model's vocabulary: 'J' -> 'j', 'é' -> 'e'",)


def test_a_mixed_case_vocabulary_keeps_the_case_it_has() -> None:
    assert MIXED.normalize("Aab", "text").text == "Aab"


def test_an_accent_the_vocabulary_has_is_kept() -> None:
    assert MIXED.normalize("bé", "text").text == "bé"


def test_unmappable_characters_are_problems_naming_each_position() -> None:
    assert LOWER.problems("a1b?", ("text",), max_length=64) == [
        FieldProblem(
            ("text", 1),
            "character '1' at position 1 is outside the model's vocabulary ('abejos')",
            "outside_vocabulary",
        ),
        FieldProblem(
            ("text", 3),
            "character '?' at position 3 is outside the model's vocabulary ('abejos')",
            "outside_vocabulary",
        ),
    ]


def test_the_boundary_token_is_never_part_of_a_text() -> None:
    assert [p.loc for p in LOWER.problems("a.b", ("text",), max_length=64)] == [("text", 1)]


def test_empty_and_too_long_texts_are_problems() -> None:
    assert LOWER.problems("", ("text",), max_length=5) == [
        FieldProblem(("text",), "is empty (after removing surrounding whitespace)", "empty")
    ]
    assert LOWER.problems("aaaaaa", ("text",), max_length=5) == [
        FieldProblem(("text",), "has 6 characters; the limit is 5", "too_long")
    ]


def test_a_repeated_character_is_folded_everywhere_and_noted_once() -> None:
    result = LOWER.normalize("JoJo", "text")
    assert (result.text, result.notes) == ("jojo", ("text: folded into the model's vocabulary: 'J' -> 'j'",))


def test_the_raw_cap_is_four_times_the_limit_in_characters_and_eight_times_in_bytes() -> None:
    assert raw_cap(64) == (256, 512)
    assert raw_problem("a" * 256, ("text",), 64) is None
    assert raw_problem("a" * 257, ("text",), 64) == FieldProblem(
        ("text",),
        "has 257 characters as sent; at most 256 characters and 512 bytes are read, for a limit of 64 characters "
        "after normalization",
        "too_long",
    )


def test_text_within_the_character_cap_but_over_the_byte_cap_is_refused() -> None:
    euros = "€" * 171  # 3 bytes each: 513 bytes in 171 characters
    problem = raw_problem(euros, ("text",), 64)
    assert problem is not None and problem.msg.startswith("has 513 bytes (UTF-8) as sent;")
    assert raw_problem("€" * 170, ("text",), 64) is None  # 510 bytes


def test_read_refuses_text_past_the_cap_without_normalizing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def spy(form: str, text: str) -> str:
        seen.append(len(text))
        return text

    monkeypatch.setattr(unicodedata, "normalize", spy)
    attack = "\u0301" * 5000 + "\u0316" * 5000
    normalized, problems = LOWER.read(attack, ("text",), "text", max_length=64)
    assert [p.type for p in problems] == ["too_long"]
    assert normalized.text == attack and seen == []


def test_read_of_text_within_the_cap_is_normalize_then_problems() -> None:
    normalized, problems = LOWER.read("  José!", ("text",), "text", max_length=64)
    assert normalized == LOWER.normalize("  José!", "text")
    assert problems == LOWER.problems("jose!", ("text",), max_length=64)
