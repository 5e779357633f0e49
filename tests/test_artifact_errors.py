"""load_artifact: a path that is not a model says what it is and why, in one whole line naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from app.cli import EXIT_BAD_MODEL, main
from app.engine.artifact import ArtifactError, load_artifact
from app.settings import SHIPPED_MODEL

HINT = "a namegen model is a .pt file written by `namegen train`"


def directory(tmp: Path) -> Path:
    path = tmp / "models"
    path.mkdir()
    return path


def text_file(tmp: Path) -> Path:
    path = tmp / "x.txt"
    path.write_text("emma\nolivia\n", encoding="utf-8")
    return path


def empty_file(tmp: Path) -> Path:
    path = tmp / "empty.pt"
    path.write_bytes(b"")
    return path


def truncated_model(tmp: Path) -> Path:
    path = tmp / "half.pt"
    path.write_bytes(SHIPPED_MODEL.read_bytes()[: SHIPPED_MODEL.stat().st_size // 2])
    return path


def checkpoint(tmp: Path) -> Path:
    path = tmp / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, path)  # a zip archive too, but not TorchScript
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda tmp: tmp / "nope.pt", "model file not found"),
    "directory": (directory, "is a directory, not a model file"),
    "text file": (text_file, f"not a TorchScript archive ({HINT})"),
    "empty file": (empty_file, f"empty file, not a model ({HINT})"),
    "truncated": (truncated_model, "incomplete zip archive (truncated or corrupted copy?), not a loadable model"),
    "checkpoint": (checkpoint, f"a zip archive but not a TorchScript module, perhaps a torch.save checkpoint ({HINT})"),
}


@pytest.mark.parametrize("kind", CASES)
def test_load_artifact_says_what_the_path_is(kind: str, tmp_path: Path) -> None:
    make, reason = CASES[kind]
    path = make(tmp_path)
    with pytest.raises(ArtifactError) as raised:
        load_artifact(path)
    assert str(raised.value) == f"{path}: {reason}"


@pytest.mark.parametrize("kind", ["directory", "text file"])
def test_the_cli_prints_the_whole_reason_on_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, reason = CASES[kind]
    path = make(tmp_path)
    assert main(["score", "emma", "--model", str(path)]) == EXIT_BAD_MODEL
    assert capsys.readouterr().err == f"namegen: error: {path}: {reason}\n"
