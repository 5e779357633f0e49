"""The model card describes the data the model was trained on; the reference data's history only for that file."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from synthetic import syllable_words

from app.cli import main
from app.engine.artifact import ArtifactMeta
from app.settings import SHIPPED_MODEL
from training.data import reference_split
from training.download import NAMES_SHA256
from training.model_card import write_card


@dataclass
class Trained:
    data: Path
    words: list[str]
    out: Path
    stdout: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """`namegen train` on a small file of invented syllable words: the lecture recipe, a few steps, one thread."""
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("card")
    words = syllable_words(200, seed=4)
    data = root / "syllables.txt"
    data.write_text("\n".join(words) + "\n", encoding="utf-8")
    out = root / "syllables.pt"
    stdout = io.StringIO()  # capsys is per test; this fixture runs once per module
    with contextlib.redirect_stdout(stdout):
        argv = ["train", "--data", str(data), "--recipe", "lecture", "--steps", "30", "--threads", "1"]
        status = main([*argv, "--out", str(out), "--no-progress"])
    torch.set_num_threads(threads)
    assert status == 0
    yield Trained(data, words, out, stdout.getvalue())


@pytest.mark.training
def test_train_prints_the_data_the_result_and_the_file_written(trained: Trained) -> None:
    lines = trained.stdout.splitlines()
    distinct = len(set(trained.words))
    assert lines[0] == f"read {trained.data} (one item per line): {len(trained.words)} items ({distinct} distinct)"
    assert lines[1].startswith("vocabulary 13 (the boundary '.' included), windows train ")
    assert lines[2].startswith("best step ") and " dev " in lines[2] and " test " in lines[2]
    assert lines[-1] == f"wrote {trained.out}"


@pytest.mark.training
def test_the_card_of_a_model_trained_on_other_data_describes_that_file(trained: Trained) -> None:
    card = trained.out.with_suffix(".card.md").read_text()
    split = reference_split(trained.words)
    sha256 = hashlib.sha256(trained.data.read_bytes()).hexdigest()
    distinct = len(set(trained.words))
    assert f"- File `syllables.txt`: 200 words ({distinct} distinct), sha256 `{sha256}`" in card
    assert f"train / dev / test: {len(split.train)} / {len(split.dev)} / {len(split.test)} words; " in card
    assert "not the reference names data (its sha256 differs)" in card
    assert "reflects whatever biases `syllables.txt` carries." in card
    assert "2018" not in card and "US" not in card and "Social Security" not in card


@pytest.mark.training
def test_the_card_records_the_command_that_reproduces_the_model(trained: Trained) -> None:
    command = f"namegen train --recipe lecture --data {trained.data} --out {trained.out} --steps 30"
    assert f"- Command: `{command}`" in trained.out.with_suffix(".card.md").read_text()
    assert json.loads(trained.out.with_suffix(".card.json").read_text())["command"] == command


@pytest.mark.training
def test_the_card_json_records_the_word_counts(trained: Trained) -> None:
    dataset = json.loads(trained.out.with_suffix(".card.json").read_text())["dataset"]
    split = reference_split(trained.words)
    assert dataset["words"] == 200
    assert dataset["distinct_words"] == len(set(trained.words))
    assert dataset["split_words"] == {"train": len(split.train), "dev": len(split.dev), "test": len(split.test)}


def test_the_card_of_a_model_trained_on_the_reference_file_gives_its_provenance(tmp_path: Path) -> None:
    # The shipped model was trained on the reference names.txt: its recorded checksum is the reference one.
    meta = ArtifactMeta.from_json(json.loads(SHIPPED_MODEL.with_suffix(".card.json").read_text()))
    assert meta.dataset_sha256 == NAMES_SHA256
    write_card(meta, tmp_path / "names-mlp.pt")
    card = (tmp_path / "names-mlp.card.md").read_text()
    assert "- File `names.txt`: 32,033 words" in card and NAMES_SHA256 in card
    assert (
        "- Source: the reference names data: the 32,033 most common first names given in the United States in 2018"
    ) in card
    assert "karpathy/makemore" in card
    assert "reflects that data's biases (US first names of 2018)." in card
