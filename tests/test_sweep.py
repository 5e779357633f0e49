"""training.sweep: Optuna studies of tiny trials on a tiny file, in SQLite and in a real PostgreSQL server."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from servers import REPO_ROOT, free_port
from synthetic import syllable_words

import training.sweep_trial
from app.engine.artifact import load_artifact
from training.bigram import bigram_log_probs, bigram_loss
from training.command import CommandError
from training.data import ContextWindows, Vocabulary, read_words, reference_split
from training.sweep import SweepOptions, main, make_pruner, run_sweep
from training.sweep_study import SweepData
from training.sweep_trial import SPACE, Objective
from training.train import TrainResult

pytestmark = pytest.mark.training

# Small, fast models only: the search machinery is under test, not the data.
TINY_AXES: dict[str, list[Any]] = {
    "n_embd": [4],
    "n_hidden": [16],
    "deep_width": [0],
    "n_layers": [1],
    "n_members": [2],
    "weight_decay": [0.0],
    "steps": [60],
}
SEARCHED: dict[str, list[Any]] = {"block_size": [2, 3], "dropout": [0.0, 0.1], "lr": [0.005, 0.01, 0.02]}
QUIET = {"log": lambda _: None}


@pytest.fixture(autouse=True, scope="module")
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def write_tiny_data(path: Path) -> Path:
    words = syllable_words(300, seed=3)
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


def set_args(axes: dict[str, list[Any]]) -> list[str]:
    return [arg for name, values in axes.items() for arg in ("--set", f"{name}={','.join(map(str, values))}")]


def csv_rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as f:
        return list(csv.DictReader(f))


def load(out: Path, name: str = "sweep") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


@dataclass
class Sweep:
    data: Path
    out: Path
    best: Path
    rows: list[dict[str, str]]
    study: optuna.Study


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    root = tmp_path_factory.mktemp("sweep")
    data = write_tiny_data(root / "tiny.txt")
    out, best = root / "results", root / "best.pt"
    argv = ["--data", str(data), "--budget-minutes", "10", "--trials", "6", "--threads", "1"]
    assert main([*argv, *set_args({**TINY_AXES, **SEARCHED}), "--out", str(out), "--export-best", str(best)]) == 0
    return Sweep(data, out, best, csv_rows(out), load(out))


def test_the_study_is_stored_in_sqlite_in_the_results_directory(sweep: Sweep) -> None:
    assert len(sweep.study.trials) == 6
    assert {t.state for t in sweep.study.trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert sweep.study.user_attrs["settings"]["space"] == {**SPACE, **TINY_AXES, **SEARCHED}


def test_csv_has_one_row_per_trained_trial_with_its_settings_and_dev_loss(sweep: Sweep) -> None:
    trained = [t for t in sweep.study.trials if "repeat_of" not in t.user_attrs]
    assert [int(r["trial"]) for r in sweep.rows] == [t.number for t in trained]
    for row, t in zip(sweep.rows, trained, strict=True):
        assert (int(row["block_size"]), float(row["lr"]), float(row["dropout"])) == (
            t.params["block_size"],
            t.params["lr"],
            t.params["dropout"],
        )
        assert row["state"] == t.state.name.lower()
        assert float(row["dev_loss"]) == pytest.approx(min(t.intermediate_values.values()), abs=1e-6)


def test_csv_parameters_are_those_of_the_trained_models(sweep: Sweep) -> None:
    vocab = len(Vocabulary.from_words(read_words(sweep.data)).chars)
    for row in sweep.rows:
        block = int(row["block_size"])
        # two members (TINY_AXES), each: embedding + linear + layer norm + head
        member = vocab * 4 + (block * 4 * 16 + 16) + 2 * 16 + (16 * vocab + vocab)
        assert int(row["parameters"]) == 2 * member


def test_each_trial_reports_its_dev_loss_at_each_tenth_of_its_steps(sweep: Sweep) -> None:
    complete = sweep.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    trained = [t for t in complete if "repeat_of" not in t.user_attrs]
    assert trained
    for t in trained:
        assert sorted(t.intermediate_values) == list(range(10, 101, 10))
        assert t.value == pytest.approx(min(t.intermediate_values.values()))


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


@pytest.mark.parametrize("name", ["results.png", "history.png", "intermediate.png", "importances.png"])
def test_plots_are_pngs(sweep: Sweep, name: str) -> None:
    assert (sweep.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_best_writes_the_studys_best_trial_as_an_artifact(sweep: Sweep) -> None:
    artifact = load_artifact(sweep.best)
    best = sweep.study.best_trial
    assert artifact.block_size == best.params["block_size"]
    assert artifact.meta.recipe == "sweep"
    assert artifact.meta.dev_loss == pytest.approx(best.value, abs=1e-5)


def tiny_options(tmp_path: Path, **changes: Any) -> SweepOptions:
    data = write_tiny_data(tmp_path / "tiny.txt")
    return SweepOptions(data=data, axes={**TINY_AXES, **SEARCHED}, threads=1, out=tmp_path / "out", **changes)


def test_a_trial_worse_than_the_median_at_an_evaluation_is_pruned_there(tmp_path: Path) -> None:
    data = SweepData.read(write_tiny_data(tmp_path / "tiny.txt"))
    study = optuna.create_study(pruner=make_pruner("median"))
    good = {**{k: v[0] for k, v in TINY_AXES.items()}, "block_size": 3, "dropout": 0.0, "lr": 0.01}
    for lr in (0.01, 0.02, 0.005, 0.0001):  # three trials to compare with, then one that learns 100x slower
        study.enqueue_trial({**good, "lr": lr})
    space = {**TINY_AXES, **SEARCHED, "lr": [0.01, 0.02, 0.005, 0.0001]}
    study.optimize(Objective(data, space, seed=1, threads=1, deadline=math.inf, **QUIET), n_trials=4)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 3 + [optuna.trial.TrialState.PRUNED]
    slow = study.trials[3]
    # The pruner waits for 20% of the steps: at 10% and 20% it was asked, and at 20% it stopped the trial.
    assert sorted(slow.intermediate_values) == [10, 20]
    assert slow.user_attrs["steps_run"] == 12
    assert slow.intermediate_values[20] > sorted(t.intermediate_values[20] for t in study.trials[:3])[1]


def test_no_trial_starts_once_the_budget_is_spent(tmp_path: Path) -> None:
    options = tiny_options(tmp_path, budget_minutes=0.05 / 60)
    options.axes["steps"] = [10_000_000]
    study = run_sweep(options, **QUIET)
    # The first trial always starts, is cut when the budget runs out, and nothing follows it.
    assert len(study.trials) == 1
    attrs = study.trials[0].user_attrs
    assert attrs["cut_by_budget"] and attrs["steps_run"] < 10_000_000
    assert len(csv_rows(tmp_path / "out")) == 1


def test_a_space_of_one_setting_is_trained_once(tmp_path: Path) -> None:
    options = tiny_options(tmp_path, trials=5)
    options.axes.update(block_size=[3], dropout=[0.0], lr=[0.01])
    study = run_sweep(options, **QUIET)
    assert len(study.trials) == 1


def test_settings_the_sampler_proposes_again_are_not_trained_again(tmp_path: Path) -> None:
    data = SweepData.read(write_tiny_data(tmp_path / "tiny.txt"))
    study = optuna.create_study()
    one = {**{k: v[0] for k, v in TINY_AXES.items()}, "block_size": 3, "dropout": 0.0, "lr": 0.01}
    study.enqueue_trial(one)
    study.enqueue_trial(one)
    study.optimize(Objective(data, {**TINY_AXES, **SEARCHED}, seed=1, threads=1, deadline=math.inf, **QUIET), 2)
    first, second = study.trials
    assert second.user_attrs["repeat_of"] == 0 and "steps_run" not in second.user_attrs
    assert second.value == first.value


def test_resume_continues_the_stored_study_with_its_own_settings(tmp_path: Path) -> None:
    first = run_sweep(tiny_options(tmp_path, trials=2, seed=7), **QUIET)
    resumed = run_sweep(SweepOptions(data=tmp_path / "tiny.txt", trials=2, out=tmp_path / "out", resume=True), **QUIET)
    assert [t.number for t in resumed.trials] == [0, 1, 2, 3]
    assert resumed.trials[:2] == first.trials[:2]
    assert all(t.params["n_hidden"] == 16 and t.params["steps"] == 60 for t in resumed.trials)
    assert len(csv_rows(tmp_path / "out")) == len([t for t in resumed.trials if "repeat_of" not in t.user_attrs])


def test_resume_without_a_study_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_tiny_data(tmp_path / "tiny.txt")
    assert main(["--data", str(data), "--resume", "--out", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: {tmp_path / 'none'}: no study.db to resume; --out names a sweep's results directory\n"
    )


def test_resume_refuses_settings_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--resume", "--mode", "grid", "--set", "lr=0.01"]) == 2
    assert capsys.readouterr().err == (
        "namegen: error: --resume continues the study with its own settings: drop --mode, --set\n"
    )


def test_joining_a_study_made_with_other_settings_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_sweep(tiny_options(tmp_path, trials=1), **QUIET)
    argv = ["--data", str(tmp_path / "tiny.txt"), "--out", str(tmp_path / "out"), *set_args(TINY_AXES)]
    assert main([*argv, "--set", "lr=0.01"]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: study 'sweep' in sqlite:///{(tmp_path / 'out' / 'study.db').resolve()} was made with "
        "another space: --resume continues it with its own, --study NAME starts another\n"
    )


def test_an_unreachable_storage_is_one_line_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_tiny_data(tmp_path / "tiny.txt")
    url = f"postgresql://sweeper:hunter2@127.0.0.1:{free_port()}/studies"
    assert main(["--data", str(data), "--storage", url, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"namegen: error: storage postgresql://sweeper:***@127.0.0.1:{url.split(':')[3]}")
    assert "hunter2" not in err and err.count("\n") == 1


def test_a_malformed_axis_is_one_line_naming_the_axes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", "width=3"]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: --set width=3: expected AXIS=V1,V2 with AXIS one of {', '.join(SPACE)}\n"
    )


def test_no_artifact_is_exported_when_every_trial_diverged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_train = training.sweep_trial.train

    def diverging(*args: Any, **kwargs: Any) -> TrainResult:
        result = real_train(*args, **kwargs)
        return dataclasses.replace(result, dev_loss=math.inf, best_step=0)  # as if NaN at every evaluation

    monkeypatch.setattr(training.sweep_trial, "train", diverging)
    best = tmp_path / "best.pt"
    with pytest.raises(CommandError) as raised:
        run_sweep(tiny_options(tmp_path, trials=1, export_best=best, pruner="none"), **QUIET)
    assert str(raised.value) == f"no trial finished with a finite dev loss: {best} not written"
    assert not best.exists()


# ---- several workers, one PostgreSQL study -----------------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1 and a free port, its files in a temporary directory."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL's server binaries are not installed ({PG_BIN}: apt-get install postgresql)")
    # initdb refuses to run as root: as root, run the server as the postgres account (or nobody).
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="namegen-pg-"))
    if os.geteuid() == 0:
        name = next(n for n in ("postgres", "nobody") if n in {p.pw_name for p in pwd.getpwall()})
        shutil.chown(root, user=name)
        as_user = ["runuser", "-u", name, "--"]
    port = free_port()
    data = root / "data"
    try:
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "sweep", "--auth=trust", "--no-sync", "-E", "UTF8"]
        subprocess.run([*as_user, *initdb], check=True, capture_output=True)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start"]
        subprocess.run([*as_user, *start], check=True, capture_output=True, timeout=60)
        yield f"postgresql://sweep@127.0.0.1:{port}/postgres"
    finally:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run([*as_user, *stop], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.database
def test_two_workers_in_two_processes_share_one_postgresql_study(tmp_path: Path, postgres_url: str) -> None:
    data = write_tiny_data(tmp_path / "tiny.txt")
    argv = ["--data", str(data), "--storage", postgres_url, "--study", "shared", "--trials", "3", "--threads", "1"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "training.sweep", *argv, *set_args({**TINY_AXES, **SEARCHED}), "--out", str(out)],
            cwd=REPO_ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for out in (tmp_path / "a", tmp_path / "b")
    ]
    logs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], logs

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    by_worker: dict[str, list[int]] = {}
    for t in study.trials:
        by_worker.setdefault(t.user_attrs["worker"], []).append(t.number)
    assert sorted(len(numbers) for numbers in by_worker.values()) == [3, 3]  # both contributed their trials
    # Each trial ran in exactly one process: its number is in one worker's log, never in both.
    ran = [set(map(int, re.findall(r"^trial (\d+):", log, re.MULTILINE))) for log in logs]
    assert ran[0].isdisjoint(ran[1]) and ran[0] | ran[1] == set(range(6))
