"""`namegen train|evaluate|sweep`: a file or setting they cannot use is one line on stderr and exit status 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.settings import SHIPPED_MODEL

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
