"""GET /sample's constraint parameters read with the model's text rules, and the ConstraintSpec they make.

suffix, contains, excludes and similar_to are read like the prefix (capped as sent, then normalized: case and
accents folded into the vocabulary, each change in a note; a character no fold maps in is a 422 naming it).
The pattern is checked (app.engine.patterns) but not folded. Conflicts that need no automaton to see (a letter
both excluded and required, exact with truncation) are found here; what only the automaton can tell (no name
satisfies them all within the length bounds) is app.engine.constraints'.
"""

from __future__ import annotations

from dataclasses import replace

from app.engine.constraints import ConstraintSpec
from app.engine.jobs import SampleSpec
from app.engine.patterns import PatternError, checked_pattern
from app.engine.problems import Problem
from app.engine.textrules import TextRules

MASKING_NOTE = (
    "constraints: each character was drawn among those from which every constraint can still be met, in "
    "proportion to the model's probability times an estimate of how likely the constraints are then met "
    "(guided masking), so the names follow the model only up to that reweighting; log_prob is the model's own, "
    "constrained_log_prob this sampler's (exact=true corrects towards the model's own)"
)
EXACT_NOTE = (
    "exact: the names were drawn from the guided draws in proportion to p/q (importance resampling), "
    "approaching the model's distribution conditioned on the constraints; see effective_sample_size"
)


def read_constraints(
    spec: SampleSpec, rules: TextRules, prefix: str, max_length: int, name_limit: int
) -> tuple[dict[str, str], list[str], list[Problem]]:
    """suffix, contains, excludes and similar_to read like the prefix, the pattern checked, and what conflicts:
    the texts to use (the pattern as it will be compiled), the notes, the problems."""
    texts: dict[str, str] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    for field, limit in (
        ("suffix", name_limit),
        ("contains", name_limit),
        ("excludes", len(rules.allowed)),  # letters; a longer list can only repeat some
        ("similar_to", name_limit),
    ):
        raw = getattr(spec, field)
        if raw is None:
            continue
        read, found = rules.read(raw, (field,), field, limit, allow_empty=field != "similar_to")
        texts[field], notes, problems = read.text, notes + list(read.notes), problems + found
        if not found and field in ("suffix", "contains") and len(read.text) > max_length:
            problems.append(
                Problem((field,), f"has {len(read.text)} characters, more than max_length ({max_length})", "order")
            )
    excluded = set(texts.get("excludes", ""))
    for field, text in (
        ("prefix", prefix),
        ("suffix", texts.get("suffix", "")),
        ("contains", texts.get("contains", "")),
    ):
        clash = "".join(sorted(excluded & set(text)))
        if clash:
            problems.append(Problem(("excludes",), f"has {clash!r}, which the {field} {text!r} needs", "conflict"))
    if spec.pattern is not None:
        try:
            texts["pattern"] = checked_pattern(spec.pattern)
        except PatternError as exc:
            problems.append(Problem(("pattern",), str(exc), "pattern"))
    if spec.exact and (spec.top_k is not None or spec.top_p is not None):
        problems.append(
            Problem(
                ("exact",),
                "cannot be combined with top_k or top_p: it samples the model's distribution at the given "
                "temperature conditioned on the constraints, and truncation would leave names it needs unreachable",
                "conflict",
            )
        )
    return texts, notes, problems


def constraint_spec(spec: SampleSpec, texts: dict[str, str], prefix: str, max_length: int) -> ConstraintSpec | None:
    """The automaton's spec, or None when the request needs none (prefix and lengths alone are today's sampler)."""
    if not (spec.exact or spec.pattern is not None or any(texts.get(k) for k in ("suffix", "contains", "excludes"))):
        return None
    return ConstraintSpec(
        prefix,
        texts.get("suffix", ""),
        texts.get("contains", ""),
        frozenset(texts.get("excludes", "")),
        texts.get("pattern"),
        spec.min_length,
        max_length,
    )


def normalized_spec(spec: SampleSpec, texts: dict[str, str]) -> SampleSpec:
    """The spec with its texts as read (the pattern as sent: its check only drops end anchors)."""
    return replace(
        spec,
        suffix=texts.get("suffix", spec.suffix),
        contains=texts.get("contains", spec.contains),
        excludes=texts.get("excludes", spec.excludes),
        similar_to=texts.get("similar_to", spec.similar_to),
    )
