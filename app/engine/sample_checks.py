"""A /sample request checked against the limits and the model's vocabulary, normalized, and the ConstraintSpec
it makes.

The checks that need the limits, the vocabulary or several fields happen here, once for HTTP and CLI alike (each
field's own checks are the edge's); every problem found is reported at once.

suffix, contains, excludes and similar_to are read like the prefix (capped as sent, then normalized: case and
accents folded into the vocabulary, each change in a note; a character no fold maps in is a problem naming it).
The pattern is checked (app.engine.patterns) but not folded. Conflicts that need no automaton to see (a letter
both excluded and required, exact with truncation) are found here; what only the automaton can tell (no name
satisfies them all within the length bounds) is app.engine.constraints'.
"""

from __future__ import annotations

from app.engine.constraints import ConstraintSpec
from app.engine.jobs import pick_seed
from app.engine.limits import EngineLimits
from app.engine.patterns import PatternError, checked_pattern
from app.engine.problems import FieldProblem, InvalidInput
from app.engine.requests import SampleRequest
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


def read_sample_request(
    request: SampleRequest, rules: TextRules, limits: EngineLimits
) -> tuple[SampleRequest, list[str], ConstraintSpec | None]:
    """The request normalized (texts read, max_length and seed filled in), the notes on what reading changed,
    and the constraints to compile (None: the sampler needs none); InvalidInput naming every problem."""
    problems = []
    if request.n > limits.max_n:
        problems.append(
            FieldProblem(("n",), f"must be at most {limits.max_n} (the max_n setting), got {request.n}", "too_big")
        )
    max_length = request.max_length if request.max_length is not None else limits.max_name_length
    if max_length > limits.max_name_length:
        problems.append(
            FieldProblem(
                ("max_length",),
                f"must be at most {limits.max_name_length} (the max_name_length setting), got {max_length}",
                "too_big",
            )
        )
    if request.min_length > max_length:
        problems.append(
            FieldProblem(
                ("min_length",), f"must be at most max_length ({max_length}), got {request.min_length}", "order"
            )
        )
    prefix, prefix_problems = rules.read(request.prefix, ("prefix",), "prefix", limits.max_name_length, True)
    problems += prefix_problems
    if len(prefix.text) > max_length and not problems:
        problems.append(
            FieldProblem(
                ("prefix",), f"has {len(prefix.text)} characters, more than max_length ({max_length})", "order"
            )
        )
    texts, notes, found = read_constraints(request, rules, prefix.text, max_length, limits.max_name_length)
    problems += found
    if problems:
        raise InvalidInput(problems)
    normalized = SampleRequest(  # every field named (dataclasses.replace walks the fields: a cost per request)
        n=request.n,
        temperature=request.temperature,
        seed=request.seed if request.seed is not None else pick_seed(),
        top_k=request.top_k,
        top_p=request.top_p,
        prefix=prefix.text,
        min_length=request.min_length,
        max_length=max_length,
        novel_only=request.novel_only,
        unique=request.unique,
        suffix=texts.get("suffix", request.suffix),
        contains=texts.get("contains", request.contains),
        excludes=texts.get("excludes", request.excludes),
        pattern=request.pattern,  # as sent: its check only drops end anchors
        similar_to=texts.get("similar_to", request.similar_to),
        exact=request.exact,
    )
    return normalized, [*prefix.notes, *notes], constraint_spec(normalized, texts.get("pattern"))


def read_constraints(
    request: SampleRequest, rules: TextRules, prefix: str, max_length: int, name_limit: int
) -> tuple[dict[str, str], list[str], list[FieldProblem]]:
    """suffix, contains, excludes and similar_to read like the prefix, the pattern checked, and what conflicts:
    the texts to use (the pattern as it will be compiled), the notes, the problems."""
    texts: dict[str, str] = {}
    notes: list[str] = []
    problems: list[FieldProblem] = []
    for field, limit in (
        ("suffix", name_limit),
        ("contains", name_limit),
        ("excludes", len(rules.allowed)),  # letters; a longer list can only repeat some
        ("similar_to", name_limit),
    ):
        raw = getattr(request, field)
        if raw is None:
            continue
        read, found = rules.read(raw, (field,), field, limit, allow_empty=field != "similar_to")
        texts[field], notes, problems = read.text, notes + list(read.notes), problems + found
        if not found and field in ("suffix", "contains") and len(read.text) > max_length:
            problems.append(
                FieldProblem((field,), f"has {len(read.text)} characters, more than max_length ({max_length})", "order")
            )
    excluded = set(texts.get("excludes", ""))
    for field, text in (
        ("prefix", prefix),
        ("suffix", texts.get("suffix", "")),
        ("contains", texts.get("contains", "")),
    ):
        clash = "".join(sorted(excluded & set(text)))
        if clash:
            problems.append(FieldProblem(("excludes",), f"has {clash!r}, which the {field} {text!r} needs", "conflict"))
    if request.pattern is not None:
        try:
            texts["pattern"] = checked_pattern(request.pattern)
        except PatternError as exc:
            problems.append(FieldProblem(("pattern",), str(exc), "pattern"))
    if request.exact and (request.top_k is not None or request.top_p is not None):
        problems.append(
            FieldProblem(
                ("exact",),
                "cannot be combined with top_k or top_p: it samples the model's distribution at the given "
                "temperature conditioned on the constraints, and truncation would leave names it needs unreachable",
                "conflict",
            )
        )
    return texts, notes, problems


def constraint_spec(request: SampleRequest, pattern: str | None) -> ConstraintSpec | None:
    """A normalized request's automaton spec (`pattern` as it will be compiled), or None when it needs none
    (prefix and lengths alone are the sampler's own)."""
    if not (request.exact or pattern is not None or request.suffix or request.contains or request.excludes):
        return None
    return ConstraintSpec(
        request.prefix,
        request.suffix,
        request.contains,
        frozenset(request.excludes),
        pattern,
        request.min_length,
        request.longest,
    )
