"""Constrained generation, specified on a tiny model over the alphabet "abcd" where every name up to six
characters can be enumerated: the automaton accepts exactly the names that satisfy the constraints, the sampler
draws only what can still match and returns only what does, and its probabilities are what an independent
computation gives."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.artifact import Artifact, ArtifactMeta, load_artifact, write_artifact
from app.engine.constraints import ConstraintSpec, compile_automaton
from app.engine.engine import Engine, InvalidInput
from app.engine.guidance import Background
from app.engine.limits import EngineLimits
from app.engine.patterns import PatternCompiler, PatternError, checked_pattern
from app.engine.requests import SampleRequest
from app.engine.selection import resample
from training.model import ModelConfig, NameMLP

ALPHABET = "abcd"
VOCAB = (".", *ALPHABET)
WORDS = ["ab", "abc", "b", "dab", "cab", "adda", "bcd"]
PATTERNS = [None, "[ab]*", "a.*", ".*(cd|dc).*", "(ab|c)+d?", "[^a]*a[^a]*", "a{2,3}[bcd]*", ".?b.?", "d*"]
COMPILER = PatternCompiler()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """A random MLP over "abcd", its weights scaled up so that its distributions are far from uniform."""
    torch.manual_seed(0)
    model = NameMLP(ModelConfig(vocab_size=len(VOCAB), block_size=3, n_embd=4, n_hidden=16)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3.0)
    meta = {
        "format": "namegen-mlp",
        "format_version": 1,
        "vocab": list(VOCAB),
        "block_size": 3,
        "hyperparameters": {},
        "train_loss": 0.0,
        "dev_loss": 0.0,
        "test_loss": 0.0,
        "dataset": {},
    }
    path = tmp_path_factory.mktemp("tiny") / "tiny.pt"
    write_artifact(path, torch.jit.script(model), ArtifactMeta.from_json(meta), WORDS)
    return load_artifact(path)


@pytest.fixture(scope="module")
def engine(tiny: Artifact) -> Iterator[Engine]:
    engine = Engine(tiny, EngineLimits(warm_names=0, max_name_length=6, max_n=2000))
    yield engine
    engine.close()


def sampled(engine: Engine, request: SampleRequest) -> dict[str, Any]:
    """The engine's result as the API's JSON object."""
    return dataclasses.asdict(engine.sample_now(request))


# -- an independent statement of what the constraints mean ---------------------------------------------------


def satisfies(name: str, c: dict[str, Any]) -> bool:
    return (
        c.get("min_length", 1) <= len(name) <= c["max_length"]
        and name.startswith(c.get("prefix", ""))
        and name.endswith(c.get("suffix", ""))
        and c.get("contains", "") in name
        and not set(name) & set(c.get("excludes", ""))
        and (c.get("pattern") is None or re.fullmatch(c["pattern"], name) is not None)
    )


def strings(max_length: int) -> Iterator[str]:
    for length in range(max_length + 1):
        for chars in itertools.product(ALPHABET, repeat=length):
            yield "".join(chars)


def language(c: dict[str, Any]) -> set[str]:
    return {s for s in strings(c["max_length"]) if satisfies(s, c)}


def spec_of(c: dict[str, Any]) -> ConstraintSpec:
    return ConstraintSpec(
        c.get("prefix", ""),
        c.get("suffix", ""),
        c.get("contains", ""),
        frozenset(c.get("excludes", "")),
        c.get("pattern"),
        c.get("min_length", 1),
        c["max_length"],
    )


def ids(text: str) -> list[int]:
    return [VOCAB.index(ch) for ch in text]


constraint_sets = st.fixed_dictionaries(
    {
        "prefix": st.text(ALPHABET, max_size=2),
        "suffix": st.text(ALPHABET, max_size=3),
        "contains": st.text(ALPHABET, max_size=3),
        "excludes": st.text(ALPHABET, max_size=2),
        "pattern": st.sampled_from(PATTERNS),
        "min_length": st.integers(1, 4),
        "max_length": st.integers(1, 6),
    }
).filter(lambda c: c["min_length"] <= c["max_length"])


# -- the automaton --------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(c=constraint_sets.filter(lambda c: len(c["prefix"]) <= c["max_length"]))
def test_the_automaton_accepts_exactly_the_names_that_satisfy_every_constraint(c: dict[str, Any]) -> None:
    dfa = COMPILER.dfa(c["pattern"], ALPHABET) if c["pattern"] is not None else None
    automaton = compile_automaton(spec_of(c), VOCAB, dfa, Background.of_words(WORDS, VOCAB))
    accepted = {
        s
        for s in strings(c["max_length"])
        if s.startswith(c["prefix"]) and automaton.accepts(ids(s[len(c["prefix"]) :]))
    }
    assert accepted == language(c)
    assert automaton.empty == (not accepted)


@settings(max_examples=100, deadline=None)
@given(c=constraint_sets.filter(lambda c: len(c["prefix"]) <= c["max_length"]))
def test_a_token_is_allowed_exactly_when_a_match_is_still_reachable_within_max_length(c: dict[str, Any]) -> None:
    dfa = COMPILER.dfa(c["pattern"], ALPHABET) if c["pattern"] is not None else None
    automaton = compile_automaton(spec_of(c), VOCAB, dfa, Background.of_words(WORDS, VOCAB))
    names = language(c)
    beginnings = {name[:i] for name in names for i in range(len(c["prefix"]), len(name) + 1)}
    for text in sorted(beginnings):
        state = automaton.start
        for token in ids(text[len(c["prefix"]) :]):
            state = int(automaton.transitions[state, token])
        allowed = automaton.allowed(np.array([state]), np.array([len(text)]))[0]
        assert bool(allowed[0]) == (text in names)
        assert [bool(a) for a in allowed[1:]] == [any(n.startswith(text + ch) for n in names) for ch in ALPHABET]


def test_the_background_counts_characters_add_one_and_ends_by_length() -> None:
    background = Background.of_words(["ab", "abc", "b"], VOCAB)
    assert np.exp(background.log_chars).tolist() == pytest.approx([0.0, 3 / 10, 4 / 10, 2 / 10, 1 / 10])
    # of the names at least t long, the share exactly t long; kept within [0.01, 0.99]
    assert [background.hazard(t) for t in range(5)] == pytest.approx([0.01, 1 / 3, 1 / 2, 0.99, 0.99])


# -- the pattern's supported subset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(a)\\1", "backreferences at position 3"),
        ("(?P<x>a)(?P=x)", "backreferences at position 8"),
        ("a(?=b)", "lookahead at position 1"),
        ("(?<!a)b", "lookbehind at position 0"),
        ("\\bab", "word boundaries (\\b) at position 0"),
        ("a$b", "anchors (^ or $ inside the pattern) at position 1"),
        ("a++", "possessive quantifiers at position 2"),
        ("(?>a)b", "atomic groups at position 0"),
        ("[a-", "not a valid regular expression: unterminated character set at position 0"),
        ("a{2,1}", "min repeat greater than max repeat at position 2"),
        ("[[:alpha:]]+", "is ambiguous: Possible nested set at position 1"),
        ("a" * 201, "has 201 characters; the limit is 200"),
    ],
)
def test_an_unsupported_or_invalid_pattern_is_refused_saying_what_and_where(pattern: str, fragment: str) -> None:
    with pytest.raises(PatternError, match=re.escape(fragment)):
        checked_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "compiled"), [("^ab$", "ab"), ("a\\$", "a\\$"), ("[^]a]+", "[^]a]+"), ("a+?", "a+?")]
)
def test_end_anchors_are_dropped_and_look_alikes_kept(pattern: str, compiled: str) -> None:
    assert checked_pattern(pattern) == compiled


def test_a_pattern_whose_automaton_explodes_is_refused_after_a_second_of_compute() -> None:
    with pytest.raises(PatternError, match=re.escape("too complex: its automaton was not built within 1 s of compute")):
        PatternCompiler(cpu_seconds=1).dfa("(a|b)*a(a|b){16}", ALPHABET)


# -- sampling -------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c=constraint_sets, seed=st.integers(0, 2**32))
def test_every_name_satisfies_every_constraint_and_impossible_ones_are_refused(
    engine: Engine, c: dict[str, Any], seed: int
) -> None:
    request = SampleRequest(n=20, seed=seed, **{k: v for k, v in c.items() if v or k == "min_length"})
    if not language(c):
        with pytest.raises(InvalidInput):
            sampled(engine, request)
        return
    body = sampled(engine, request)
    assert all(satisfies(name, c) for name in body["names"])
    if any(c[k] for k in ("suffix", "contains", "excludes", "pattern")):  # masked: never a row wasted
        assert body["complete"] and body["drawn"] == 20


def test_the_same_seed_gives_the_same_constrained_names(engine: Engine) -> None:
    request = SampleRequest(n=30, seed=7, suffix="b", contains="c", pattern="[^d]*")
    assert sampled(engine, request)["names"] == sampled(engine, request)["names"]


def model_log_probs(artifact: Artifact, text: str) -> list[list[float]]:
    """ln p(token | context) at each position of text (and after it), from the artifact's own forward."""
    contexts, context = [], [0] * artifact.block_size
    for token in [*ids(text), 0]:
        contexts.append(context)
        context = [*context[1:], token]
    with torch.inference_mode():
        return torch.log_softmax(artifact.module(torch.tensor(contexts)).double(), dim=1).tolist()


def test_log_prob_is_the_model_own_log_probability_of_a_constrained_name(engine: Engine, tiny: Artifact) -> None:
    body = sampled(engine, SampleRequest(n=15, seed=3, prefix="a", suffix="cd", max_length=6))
    for s in body["samples"]:
        rows = model_log_probs(tiny, s["name"])
        assert s["log_prob"] == pytest.approx(sum(r[t] for r, t in zip(rows, [*ids(s["name"]), 0], strict=True)))


def test_constrained_log_prob_is_the_guided_sampler_probability_computed_by_enumeration(
    engine: Engine, tiny: Artifact
) -> None:
    c = {"prefix": "a", "suffix": "cd", "excludes": "b", "min_length": 3, "max_length": 5}
    background = Background.of_words(WORDS, VOCAB)
    chars = dict(zip(VOCAB, np.exp(background.log_chars).tolist(), strict=True))

    def success(text: str) -> float:
        """P(the background, at `text`, ends in a name that satisfies c): every completion enumerated."""
        t = len(text)
        if t > c["max_length"]:
            return 0.0
        end = 0.0 if t < c["min_length"] else 1.0 if t == c["max_length"] else background.hazard(t)
        going = sum(chars[ch] * success(text + ch) for ch in ALPHABET) if t < c["max_length"] else 0.0
        return end * satisfies(text, c) + (1 - end) * going

    body = sampled(engine, SampleRequest(n=10, seed=11, **c))
    assert body["complete"]
    for s in body["samples"]:
        name, rows = s["name"], model_log_probs(tiny, s["name"])
        expected = 0.0
        for t in range(len(c["prefix"]), len(name) + 1):  # the prefix is given, not drawn
            text = name[:t]
            weights = [math.exp(rows[t][0]) * satisfies(text, c)]
            weights += [math.exp(rows[t][i + 1]) * success(text + ch) for i, ch in enumerate(ALPHABET)]
            drawn = 0 if t == len(name) else ALPHABET.index(name[t]) + 1
            expected += math.log(weights[drawn] / sum(weights))
        assert s["constrained_log_prob"] == pytest.approx(expected, abs=1e-6)


def total_variation(names: list[str], target: dict[str, float]) -> float:
    counts = Counter(names)
    return 0.5 * sum(abs(counts[x] / len(names) - p) for x, p in target.items()) + 0.5 * sum(
        counts[x] / len(names) for x in counts if x not in target
    )


def test_exact_samples_the_model_conditioned_on_the_constraints_closer_than_guided_sampling(
    engine: Engine, tiny: Artifact
) -> None:
    c = {"suffix": "ab", "contains": "c", "max_length": 5}
    names = sorted(language(c))
    p = [math.exp(sum(r[t] for r, t in zip(model_log_probs(tiny, x), [*ids(x), 0], strict=True))) for x in names]
    conditional = {x: w / sum(p) for x, w in zip(names, p, strict=True)}
    guided = sampled(engine, SampleRequest(n=2000, seed=1, **c))["names"]
    exact = sampled(engine, SampleRequest(n=2000, seed=1, exact=True, **c))
    assert exact["drawn"] == 10_000  # ten candidates per name, at most 10,000
    assert total_variation(exact["names"], conditional) < total_variation(guided, conditional) / 2


def test_resampling_draws_in_proportion_to_the_weights() -> None:
    names = ["a", "b", "c", "b"]
    weights = np.array([0.1, 0.2, 0.5, 0.2])  # "b" twice: 0.4 in all
    drawn = Counter(names[i] for i in resample(names, weights, 20_000, False, np.random.default_rng(0)))
    assert [drawn[x] / 20_000 for x in "abc"] == pytest.approx([0.1, 0.4, 0.5], abs=0.01)
    unique = [names[i] for i in resample(names, weights, 5, True, np.random.default_rng(0))]
    assert sorted(unique) == ["a", "b", "c"]  # one per name, and no more than there are


def test_similar_to_returns_the_closest_of_the_candidates_closest_first(engine: Engine) -> None:
    plain = sampled(engine, SampleRequest(n=1000, seed=5, max_length=6))  # the same rounds: the same candidates
    candidates = plain["names"]
    body = sampled(engine, SampleRequest(n=8, seed=5, max_length=6, similar_to="abcd"))
    expected = sorted(range(len(candidates)), key=lambda i: damerau_levenshtein(candidates[i], "abcd"))[:8]
    assert body["names"] == [candidates[i] for i in expected]
    assert [s["distance"] for s in body["samples"]] == [damerau_levenshtein(candidates[i], "abcd") for i in expected]
    assert body["drawn"] == plain["drawn"]  # names past max_length were drawn and discarded too


def damerau_levenshtein(a: str, b: str) -> int:
    """The unrestricted distance (Lowrance and Wagner): a substring may be edited after a transposition."""
    last_row: dict[str, int] = {}
    inf = len(a) + len(b)
    d = [[inf] * (len(b) + 2)] + [[inf] + [0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i + 1][1] = i
    for j in range(len(b) + 1):
        d[1][j + 1] = j
    for i in range(1, len(a) + 1):
        last_col = 0
        for j in range(1, len(b) + 1):
            k, cost = last_row.get(b[j - 1], 0), int(a[i - 1] != b[j - 1])
            d[i + 1][j + 1] = min(
                d[i][j] + cost,
                d[i + 1][j] + 1,
                d[i][j + 1] + 1,
                d[k][last_col] + (i - k - 1) + 1 + (j - last_col - 1),
            )
            if not cost:
                last_col = j
        last_row[a[i - 1]] = i
    return d[len(a) + 1][len(b) + 1]


def test_the_reference_distance_counts_a_transposition_as_one_edit() -> None:
    assert (damerau_levenshtein("ca", "abc"), damerau_levenshtein("abcd", "acbd"), damerau_levenshtein("", "ab")) == (
        2,
        1,
        2,
    )


def test_an_impossible_combination_is_refused_before_any_sampling(engine: Engine) -> None:
    lookups = engine.sampler.stats.lookups
    with pytest.raises(InvalidInput) as refused:
        sampled(engine, SampleRequest(prefix="ab", suffix="cd", max_length=3))
    assert [p.loc for p in refused.value.problems] == [("suffix",)]
    assert "no name of 1 to 3 characters starts with 'ab' and ends with 'cd'" in refused.value.problems[0].msg
    assert engine.sampler.stats.lookups == lookups
