"""load_artifact: a path that is not a model, or a model file whose meta.json has a missing or wrong field, says
what it is and why, in one whole line naming the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from app.cli import EXIT_BAD_MODEL, main
from app.engine.artifact import META_FILE, ArtifactError, ArtifactMeta, load_artifact
from app.settings import SHIPPED_MODEL
from training.model import ModelConfig, NameMLP

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


VALID = ArtifactMeta(
    vocab=(".", "a", "b"),
    block_size=2,
    hyperparameters={},
    train_loss=1.0,
    dev_loss=1.0,
    test_loss=1.0,
    dataset={},
    mean_loss_quantiles=(0.5, 1.5),
)
BAD_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "no format": ({"format": "other"}, "not a namegen model (no meta.json with format 'namegen-mlp')"),
    "a later version": ({"format_version": 2}, "unsupported artifact format_version 2"),
    "no dataset": ({"dataset": None}, "meta.json lacks dataset"),
    "vocab without boundary": (
        {"vocab": ["a", "."]},
        "meta.json vocab must be distinct single characters starting with '.'",
    ),
    "block size 0": ({"block_size": 0}, "meta.json block_size must be a positive integer"),
    "loss as text": ({"dev_loss": "1.9"}, "meta.json dev_loss must be a finite number"),
    "dataset as a list": ({"dataset": []}, "meta.json dataset must be an object"),
    "recipe as a number": ({"recipe": 3}, "meta.json recipe must be a string"),
    "descending quantiles": (
        {"mean_loss_quantiles": [2.0, 1.0]},
        "meta.json mean_loss_quantiles must be at least two finite numbers in ascending order",
    ),
    "one quantile": (
        {"mean_loss_quantiles": [1.0]},
        "meta.json mean_loss_quantiles must be at least two finite numbers in ascending order",
    ),
}


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_a_missing_or_wrong_meta_field_is_refused_in_one_line(case: str, tmp_path: Path) -> None:
    change, reason = BAD_FIELDS[case]
    document = {**VALID.to_json(), **change}
    document = {key: value for key, value in document.items() if value is not None}
    path = tmp_path / "bad.pt"
    module = torch.jit.script(NameMLP(ModelConfig(vocab_size=3, block_size=2, n_embd=2, n_hidden=4)).eval())
    torch.jit.save(module, str(path), _extra_files={META_FILE: json.dumps(document)})
    with pytest.raises(ArtifactError) as raised:
        load_artifact(path)
    assert str(raised.value) == f"{path}: {reason}"


def test_an_optional_field_written_as_null_loads_as_absent_and_is_kept_in_the_file(tmp_path: Path) -> None:
    document = {**VALID.to_json(), "recipe": None, "served": None}
    path = tmp_path / "nulls.pt"
    module = torch.jit.script(NameMLP(ModelConfig(vocab_size=3, block_size=2, n_embd=2, n_hidden=4)).eval())
    torch.jit.save(module, str(path), _extra_files={META_FILE: json.dumps(document)})
    meta = load_artifact(path).meta
    assert (meta.recipe, meta.served) == (None, None)
    assert meta.to_json() == document
