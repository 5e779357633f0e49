"""training.sweep: a tiny search on a tiny file writes its tables, plot and best artifact."""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from synthetic import syllable_words

import training.sweep
from app.engine.artifact import load_artifact
from training.bigram import bigram_log_probs, bigram_loss
from training.command import CommandError
from training.data import ContextWindows, Vocabulary, read_words, reference_split
from training.sweep import RANDOM_SPACE, candidates, main, run_sweep
from training.train import TrainResult

# Small, fast models only: the search machinery is under test, not the data.
TINY_AXES = [
    "n_embd=4",
    "n_hidden=16",
    "n_layers=1",
    "dropout=0.0",
    "n_members=2",
    "weight_decay=0.0",
    "lr=0.01",
    "steps=60",
]


@pytest.fixture(autouse=True, scope="module")
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@dataclass
class Sweep:
    data: Path
    out: Path
    best: Path
    rows: list[dict[str, str]]


def write_tiny_data(path: Path) -> Path:
    words = syllable_words(300, seed=3)
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    root = tmp_path_factory.mktemp("sweep")
    data = write_tiny_data(root / "tiny.txt")
    out, best = root / "results", root / "best.pt"
    sets = [arg for axis in ["block_size=2,3", *TINY_AXES] for arg in ("--set", axis)]
    argv = ["--data", str(data), "--budget-minutes", "10", "--mode", "grid", *sets, "--threads", "1"]
    assert main([*argv, "--out", str(out), "--export-best", str(best)]) == 0
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    return Sweep(data, out, best, rows)


def test_grid_runs_every_combination_of_the_axes_once(sweep: Sweep) -> None:
    assert [(r["trial"], r["block_size"], r["n_hidden"], r["steps"]) for r in sweep.rows] == [
        ("1", "2", "16", "60"),
        ("2", "3", "16", "60"),
    ]
    assert all(r["steps_run"] == "60" and r["cut_by_budget"] == "False" for r in sweep.rows)


def test_csv_parameters_are_those_of_the_trained_models(sweep: Sweep) -> None:
    vocab = len(Vocabulary.from_words(read_words(sweep.data)).chars)
    for row in sweep.rows:
        block = int(row["block_size"])
        # two members (TINY_AXES), each: embedding + linear + layer norm + head
        member = vocab * 4 + (block * 4 * 16 + 16) + 2 * 16 + (16 * vocab + vocab)
        expected = 2 * member
        assert int(row["parameters"]) == expected


def test_markdown_ranks_trials_and_references_by_dev_loss(sweep: Sweep) -> None:
    text = (sweep.out / "results.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    dev_losses = [float(re.sub(r"[*]", "", line.split("|")[11]).strip()) for line in table]
    assert dev_losses == sorted(dev_losses)
    assert len(table) == len(sweep.rows) + 4
    for label, value in (("lecture MLP", "2.170"), ("flat context-8 MLP", "2.027"), ("WaveNet", "1.993")):
        assert any(label in line and f"*{value}*" in line for line in table)
    assert "test split was not used" in text


def test_markdown_bigram_row_is_the_bigram_dev_loss_of_the_file(sweep: Sweep) -> None:
    words = read_words(sweep.data)
    vocab = Vocabulary.from_words(words)
    split = reference_split(words)
    log_probs = bigram_log_probs(ContextWindows.build(split.train, vocab, 1), vocab.size)
    expected = bigram_loss(log_probs, ContextWindows.build(split.dev, vocab, 1))
    line = next(line for line in (sweep.out / "results.md").read_text().splitlines() if "bigram baseline" in line)
    assert f"*{expected:.4f}*" in line


def test_plot_is_a_png(sweep: Sweep) -> None:
    assert (sweep.out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_best_writes_the_lowest_dev_loss_trial_as_an_artifact(sweep: Sweep) -> None:
    artifact = load_artifact(sweep.best)
    best_row = min(sweep.rows, key=lambda r: float(r["dev_loss"]))
    assert artifact.block_size == int(best_row["block_size"])
    assert artifact.meta["recipe"] == "sweep"
    assert artifact.meta["dev_loss"] == pytest.approx(float(best_row["dev_loss"]), abs=1e-5)


def test_no_trial_starts_once_the_budget_is_spent(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "tiny.txt")
    overrides: dict[str, list[Any]] = {
        "block_size": [2, 3, 4],
        "n_embd": [4],
        "n_hidden": [16],
        "n_layers": [1],
        "dropout": [0.0],
        "weight_decay": [0.0],
        "lr": [0.01],
        "steps": [10_000_000],
    }
    trials = run_sweep(
        data, budget_seconds=0.05, mode="grid", out=tmp_path / "out", threads=1, overrides=overrides, log=lambda _: None
    )
    # The first trial always starts, is cut when the budget runs out, and nothing follows it.
    assert len(trials) == 1
    assert trials[0].cut_by_budget and trials[0].steps_run < 10_000_000
    assert len(list(csv.DictReader((tmp_path / "out" / "results.csv").open()))) == 1


def test_random_candidates_are_distinct_draws_from_the_space_and_repeatable() -> None:
    drawn = candidates("random", RANDOM_SPACE, 12, seed=5)
    assert len(drawn) == 12
    assert len({tuple(d.items()) for d in drawn}) == 12
    assert all(d[name] in RANDOM_SPACE[name] for d in drawn for name in RANDOM_SPACE)
    assert candidates("random", RANDOM_SPACE, 12, seed=5) == drawn


def test_random_search_stops_at_the_size_of_a_small_space() -> None:
    space: dict[str, list[Any]] = {"block_size": [2, 3], "lr": [0.01]}
    assert sorted(d["block_size"] for d in candidates("random", space, 10, seed=0)) == [2, 3]


def test_a_malformed_axis_is_one_line_naming_the_axes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", "width=3"]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: --set width=3: expected AXIS=V1,V2 with AXIS one of {', '.join(RANDOM_SPACE)}\n"
    )


def test_no_artifact_is_exported_when_every_trial_diverged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_tiny_data(tmp_path / "tiny.txt")
    real_train = training.sweep.train

    def diverging(*args: Any, **kwargs: Any) -> TrainResult:
        result = real_train(*args, **kwargs)
        return dataclasses.replace(result, dev_loss=math.inf, best_step=0)  # as if NaN at every evaluation

    monkeypatch.setattr(training.sweep, "train", diverging)
    overrides: dict[str, list[Any]] = {"block_size": [3], "n_embd": [4], "n_hidden": [16], "n_layers": [1]}
    best = tmp_path / "best.pt"
    with pytest.raises(CommandError) as raised:
        run_sweep(data, 60, "grid", 1, 20, tmp_path / "out", best, threads=1, overrides=overrides, log=lambda _: None)
    assert str(raised.value) == f"no trial reached a finite dev loss: {best} not written"
    assert not best.exists()
