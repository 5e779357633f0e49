"""`namegen` CLI: the same engine and validation as the HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import EXIT_BAD_INPUT, EXIT_BAD_MODEL, main
from app.engine.artifact import Artifact
from app.engine.textrules import Normalized, TextRules

REPO = Path(__file__).resolve().parent.parent


def test_sample_json_in_another_process_equals_http(client: TestClient) -> None:
    args = ["sample", "-n", "20", "--temperature", "0.8", "--prefix", "ka", "--seed", "1", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    http = client.get("/sample", params={"n": 20, "temperature": 0.8, "prefix": "ka", "seed": 1}).json()
    assert json.loads(done.stdout) == http


def test_sample_text_prints_one_name_per_line(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    http = client.get("/sample", params={"n": 5, "seed": 9, "unique": True, "top_p": 0.9}).json()
    capsys.readouterr()  # the service's access log goes to stdout too
    assert main(["sample", "-n", "5", "--seed", "9", "--unique", "--top-p", "0.9"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == http["names"]
    assert "seed 9" in captured.err


def test_score_json_equals_http_batch(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    http = client.post("/score/batch", json={"texts": ["emma", "olivia"]}).json()
    capsys.readouterr()
    assert main(["score", "emma", "olivia", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == http


def test_score_text_shows_losses(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    total = client.post("/score", json={"text": "emma"}).json()["total_loss"]
    assert main(["score", "emma"]) == 0
    assert f"{total:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sample", "-n", "0"], "n:"),
        (["sample", "--temperature", "0"], "temperature"),
        (["sample", "--top-p", "1.5"], "top-p"),
        (["sample", "--prefix", "k9"], "'9' at position 1"),
        (["sample", "--min-length", "6", "--max-length", "4"], "--min-length: must be at most max_length (4), got 6"),
        (["score", "em ma"], "' ' at position 2"),
    ],
)
def test_bad_input_exits_non_zero_with_a_clear_message(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("namegen: error:") and fragment in err


def test_missing_model_exits_with_its_own_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.pt"
    assert main(["score", "emma", "--model", str(missing)]) == EXIT_BAD_MODEL
    assert str(missing) in capsys.readouterr().err


def test_model_option_loads_that_file(artifact: Artifact, capsys: pytest.CaptureFixture[str]) -> None:
    path = artifact.path
    assert main(["sample", "-n", "3", "--seed", "4", "--model", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["returned"] == 3


# ---- train, evaluate and sweep: one CLI for the training tools ----------------------------------------------


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """What `namegen ARGV` prints for --help, with argparse's line wrapping undone."""
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = help_text(["--help"], capsys, monkeypatch)
    assert "{sample,score,next,serve,train,evaluate,sweep}" in text
    assert "train a model on a words file and write it with its model card" in text


@pytest.mark.parametrize(
    ("command", "defaults"),
    [
        (
            "train",
            [
                "--data DATA training words: UTF-8, one item per line (default: ../shared/data/names.txt)",
                "--recipe {compact,default,lecture} named settings (training/recipes.py) (default: default)",
                "card and plots go beside it (default: model_artifacts/names-mlp.pt)",
                "(default: the recipe's: compact 20000, default 20000, lecture 200000)",
            ],
        ),
        (
            "evaluate",
            [
                "MODEL a namegen model file (.pt) (default: model_artifacts/names-mlp.pt)",
                "WORDS UTF-8, one per line (default: ../shared/data/names.txt)",
                "(default: reference)",
            ],
        ),
        (
            "sweep",
            [
                "--data DATA words: UTF-8, one item per line (default: ../shared/data/names.txt)",
                "--budget-minutes BUDGET_MINUTES no trial starts after this (default: 30.0)",
                "--mode {tpe,grid,random} how settings are chosen (default: tpe, or the study's)",
                "--out OUT results directory (default: runs/sweep-<timestamp>/)",
            ],
        ),
    ],
)
def test_training_command_help_is_namegens_and_shows_the_defaults(
    command: str, defaults: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = help_text([command, "--help"], capsys, monkeypatch)
    assert text.startswith(f"usage: namegen {command} [-h]")
    for default in defaults:
        assert default in text


def test_python_m_training_train_keeps_its_own_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.train import main as train_main

    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        train_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m training.train [-h]")


def test_without_the_training_package_train_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Docker image ships app/ only: importing training.train fails there as it does here.
    monkeypatch.setitem(sys.modules, "training.train", None)
    assert main(["train", "--steps", "5"]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == (
        "namegen: error: `namegen train` needs the repository's training/ package, "
        "which this installation lacks (run it from a clone)\n"
    )


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["score", "e" * 300], "TEXT 1: has 300 characters as sent; at most 256 characters"),
        (["next", "--prefix", "e" * 300], "--prefix: has 300 characters as sent; at most 256 characters"),
        (["sample", "--prefix", "e" * 200], "--prefix: has 200 characters as sent; at most 128 characters"),
    ],
)
def test_text_past_the_raw_cap_is_refused_before_it_is_normalized(
    argv: list[str], shown: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    normalized: list[str] = []
    original = TextRules.normalize

    def spy(self: TextRules, text: str, what: str) -> Normalized:
        normalized.append(text)
        return original(self, text, what)

    monkeypatch.setattr(TextRules, "normalize", spy)
    assert main(argv) == EXIT_BAD_INPUT
    assert shown in capsys.readouterr().err
    assert argv[-1] not in normalized


@pytest.mark.parametrize(
    ("argv", "unknown"),
    [
        (["sample", "--num", "5"], "--num 5"),
        (["sample", "--n", "3"], "--n 3"),  # not an abbreviation of --novel-only
        (["sample", "--prefi", "ka"], "--prefi ka"),
        (["score", "--mod", "x", "emma"], "--mod"),
        (["next", "--pre", "em"], "--pre em"),
        (["serve", "--port", "1"], "--port 1"),
        (["train", "--step", "3"], "--step 3"),
        (["evaluate", "--spl", "dev", "model.pt"], "--spl"),
        (["sweep", "--budget", "1"], "--budget 1"),
    ],
)
def test_an_unknown_or_abbreviated_flag_shows_that_commands_usage_and_exits_2(
    argv: list[str], unknown: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"usage: namegen {argv[0]} [-h]")
    assert err.endswith(f"namegen {argv[0]}: error: unrecognized arguments: {unknown}\n")
