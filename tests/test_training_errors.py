"""`namegen train|evaluate|sweep`: a file or setting they cannot use is one line on stderr and exit status 2."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from synthetic import syllable_words

import training.export
import training.train
from app.cli import main
from app.engine.artifact import load_artifact
from app.settings import SHIPPED_MODEL
from training.data import ContextWindows, Vocabulary, reference_split
from training.export import load_trained
from training.model import NameMLP, ServedNameMLP, loss_on

COMMANDS = ("train", "evaluate", "sweep")


def command_line(command: str, data: Path, out: Path) -> list[str]:
    """The command reading `data`; nothing it could write lands outside `out`."""
    if command == "evaluate":
        return ["evaluate", str(SHIPPED_MODEL), str(data)]
    if command == "train":
        return ["train", "--data", str(data), "--out", str(out / "m.pt"), "--no-progress"]
    return ["sweep", "--data", str(data), "--out", str(out / "sweep"), "--budget-minutes", "1"]


def missing(directory: Path) -> tuple[Path, str]:
    path = directory / "missing.txt"
    return path, f"{path}: data file not found"


def a_directory(directory: Path) -> tuple[Path, str]:
    path = directory / "words"
    path.mkdir()
    return path, f"{path}: is a directory, not a data file (one item per line)"


def empty(directory: Path) -> tuple[Path, str]:
    path = directory / "empty.txt"
    path.write_bytes(b"")
    return path, f"{path}: no items: the file is empty or has only blank lines (expected one item per line)"


def blank_lines(directory: Path) -> tuple[Path, str]:
    path = directory / "blank.txt"
    path.write_text("\n  \n\t\n", encoding="utf-8")
    return path, f"{path}: no items: the file is empty or has only blank lines (expected one item per line)"


def latin1(directory: Path) -> tuple[Path, str]:
    path = directory / "latin1.txt"
    path.write_bytes("emma\nolivia\njérôme\n".encode("latin-1"))
    return path, f"{path}: not UTF-8 text (byte 0xe9 on line 3); save it as UTF-8, one item per line"


BAD_FILES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "missing": missing,
    "directory": a_directory,
    "empty": empty,
    "blank lines": blank_lines,
    "not UTF-8": latin1,
}


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("command", COMMANDS)
def test_an_unusable_data_file_is_one_line_and_exit_2(
    command: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, reason = BAD_FILES[kind](tmp_path)
    assert main(command_line(command, data, tmp_path)) == 2
    assert capsys.readouterr().err == f"namegen: error: {reason}\n"
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "sweep").exists()


def test_the_missing_default_data_file_says_how_to_fetch_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # ../shared/data/names.txt does not exist from here
    assert main(["train", "--out", "m.pt"]) == 2
    assert capsys.readouterr().err == (
        "namegen: error: ../shared/data/names.txt: data file not found "
        "(`make download` fetches the reference names.txt)\n"
    )


def test_too_few_words_for_the_split_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "few.txt"
    data.write_text("emma\nava\nmia\n", encoding="utf-8")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m.pt")]) == 2
    assert capsys.readouterr().err == f"namegen: error: {data}: 3 items; the 80/10/10 split needs at least 10\n"


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_train_refuses_a_run_without_steps_up_front(
    steps: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No step means no evaluation: the card would read "dev inf". Refused before the data is even read.
    assert main(["train", "--steps", steps, "--data", str(tmp_path / "absent.txt")]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: --steps must be at least 1 (got {steps}): no step, no dev loss to report\n"
    )


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--seed", "-1"], "--seed must be 0 ... 2**64-1 (got -1)"),
        (["--threads", "-2"], "--threads must be 0 (torch's choice) or more (got -2)"),
    ],
)
def test_train_refuses_settings_torch_would_reject(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *argv]) == 2
    assert capsys.readouterr().err == f"namegen: error: {reason}\n"


def test_train_refuses_a_directory_as_its_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: {tmp_path}: is a directory; --out names the model file to write, "
        "e.g. model_artifacts/names-mlp.pt\n"
    )


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--steps", "0"], "--steps must be at least 1 (got 0): no step, no dev loss to rank by"),
        (["--set", "steps=500,0"], "--set steps=500,0: steps must be at least 1 (got 0)"),
        (["--set", "lr=inf"], "--set lr=inf: lr must be finite, > 0 (got inf)"),
        (["--set", "dropout=1.0"], "--set dropout=1.0: dropout must be 0 <= dropout < 1 (got 1.0)"),
        (["--set", "n_hidden=0"], "--set n_hidden=0: n_hidden must be at least 1 (got 0)"),
        (["--set", "n_hidden=wide"], "--set n_hidden=wide: n_hidden values must be ints"),
        (["--budget-minutes", "0"], "--budget-minutes must be positive (got 0)"),
        (["--trials", "0"], "--trials must be at least 1 (got 0)"),
    ],
)
def test_sweep_refuses_settings_that_cannot_give_a_finite_dev_loss(
    argv: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv, "--out", str(tmp_path / "sweep")]) == 2
    assert capsys.readouterr().err == f"namegen: error: {reason}\n"
    assert not (tmp_path / "sweep").exists()


def test_evaluate_names_a_directory_given_as_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = tmp_path / "w.txt"
    words.write_text("emma\nava\n", encoding="utf-8")
    assert main(["evaluate", str(tmp_path), str(words)]) == 2
    assert capsys.readouterr().err == f"namegen: error: {tmp_path}: is a directory, not a model file\n"


def test_one_name_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "one.txt"
    data.write_text("emma\n", encoding="utf-8")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m.pt")]) == 2
    assert capsys.readouterr().err == f"namegen: error: {data}: 1 item; the 80/10/10 split needs at least 10\n"


@pytest.mark.parametrize(
    ("name", "content", "argv", "reason"),
    [
        (
            "ls",
            b"\x7fELF\x02\x01\x01\x00",
            [],
            "holds NUL bytes: a binary file, or UTF-16 without a byte-order mark, not UTF-8 text",
        ),
        ("names.csv", b"name,count,gender\n", [], "a header row and no other rows: the table is empty"),
        (
            "names.csv",
            b"name,count\nemma,3\n",
            ["--column", "first"],
            "no column named 'first'; its first row: 'name', 'count'",
        ),
        (
            "huge.txt",
            b"emma\n" * 20 + b"x" * 100_000,
            [],
            "line 21: an item of 100,000 characters; items are at most 256 (is this one item per line?)",
        ),
    ],
)
def test_train_refuses_a_file_that_is_no_list_of_names_in_one_line(
    name: str, content: bytes, argv: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / name
    data.write_bytes(content)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m.pt"), *argv]) == 2
    assert capsys.readouterr().err == f"namegen: error: {data}: {reason}\n"
    assert not (tmp_path / "m.pt").exists()


def test_train_refuses_an_out_it_cannot_write_before_reading_or_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    out = tmp_path / "file" / "m.pt"
    assert main(["train", "--data", str(tmp_path / "absent.txt"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"namegen: error: {out}: cannot write there ({out.parent} is not a directory)\n"


def tiny_words(tmp_path: Path) -> Path:
    data = tmp_path / "words.txt"
    data.write_text("\n".join(syllable_words(60, seed=1)) + "\n", encoding="utf-8")
    return data


def tiny_run(data: Path, out: Path, steps: int = 20) -> list[str]:
    return ["train", "--data", str(data), "--recipe", "lecture", "--steps", str(steps), "--out", str(out)]


def a_misplaced_bias(model: NameMLP, int8: bool = False) -> ServedNameMLP:
    """The serving layout with one token's output bias off by 0.5: a layout bug the export check must catch."""
    served = ServedNameMLP(model, int8)
    served.head_bias[..., 1] += 0.5
    return served


@pytest.mark.training
def test_a_failed_export_check_keeps_the_trained_weights_and_says_how_to_export_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tiny_words(tmp_path), tmp_path / "m.pt"
    weights = tmp_path / "m.trained.pt"
    with monkeypatch.context() as patch:
        patch.setattr(training.export, "ServedNameMLP", a_misplaced_bias)
        assert main([*tiny_run(data, out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"namegen: error: export check failed: the exported forward differs from the trained model by up to "
        r"0\.\d+ in a log-probability \(allowed [\d.e-]+: 1e-05 of the largest, [\d.]+\); the trained weights are "
        rf"kept in {re.escape(str(weights))}: `namegen train --reexport {re.escape(str(weights))} --out "
        rf"{re.escape(str(out))}` exports them again\n",
        err,
    ), err
    assert not out.exists()
    trained = load_trained(weights)  # the weights and everything the export needs, without the data file
    dev = ContextWindows.build(reference_split(trained.words).dev, Vocabulary(trained.meta.vocab), 3)
    assert loss_on(trained.model, dev.x, dev.y) == pytest.approx(trained.meta.dev_loss, abs=1e-5)
    assert trained.meta.best_step == 20

    assert main(["train", "--reexport", str(weights)]) == 0  # --out defaults to the weights' model file
    assert capsys.readouterr().out == f"wrote {out}\n"
    artifact = load_artifact(out)
    assert artifact.meta.dev_loss == trained.meta.dev_loss
    with torch.no_grad():
        assert torch.allclose(artifact.module(dev.x), trained.model(dev.x), atol=1e-5, rtol=0)


class CtrlCAfter:
    """A stand-in for tqdm that sends this process SIGINT (a Ctrl-C) `times` times once `steps` steps have run."""

    def __init__(self, steps: int, times: int = 1) -> None:
        self.steps, self.times = steps, times

    def __call__(self, *args: Any, initial: int = 0, **kwargs: Any) -> CtrlCAfter:
        self.done = initial
        return self

    def update(self, n: int) -> None:
        self.done += n
        if self.done == self.steps:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def test_ctrl_c_stops_training_and_saves_the_weights_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out, weights = tiny_words(tmp_path), tmp_path / "m.pt", tmp_path / "m.trained.pt"
    monkeypatch.setattr(training.train, "tqdm", CtrlCAfter(7))
    assert main(tiny_run(data, out)) == 130
    assert capsys.readouterr().err == (
        f"namegen: error: stopped by Ctrl-C at step 7 of 20: the best weights so far (step 7) are in {weights}; "
        f"`namegen train --reexport {weights} --out {out}` exports them\n"
    )
    assert not out.exists()
    history = load_trained(weights).meta.history
    assert history is not None and history[-1]["step"] == 7
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C means "stop" again


def test_a_second_ctrl_c_stops_the_command_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tiny_words(tmp_path), tmp_path / "m.pt"
    monkeypatch.setattr(training.train, "tqdm", CtrlCAfter(7, times=2))
    assert main(tiny_run(data, out)) == 130
    assert capsys.readouterr().err == "namegen: error: stopped by Ctrl-C: nothing written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.txt"]


def test_reexport_of_a_file_that_is_not_a_model_says_why_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "m.trained.pt"
    weights.write_text("emma\n", encoding="utf-8")
    assert main(["train", "--reexport", str(weights)]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: {weights}: not a TorchScript archive (a namegen model is a .pt file written by "
        "`namegen train`)\n"
    )


def test_reexport_of_a_served_model_is_not_trained_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "m.trained.pt"
    weights.write_bytes(SHIPPED_MODEL.read_bytes())  # a model file, in the serving layout: not NameMLP's weights
    assert main(["train", "--reexport", str(weights)]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: {weights}: not trained weights written by namegen train (RuntimeError)\n"
    )
