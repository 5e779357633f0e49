"""The shipped surname model's claims, recomputed from the artifact alone.

The artifact carries its training words in file order (words.txt.gz), so the data file is rebuilt from it,
checked against the sha256 its card records (the sha256 of `python -m training.download --dataset
us-surnames`), split as training split it, and scored through the scripted forward: no network, no data file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from app.engine.artifact import Artifact, load_artifact
from app.settings import SHIPPED_MODEL
from training.bigram import bigram_log_probs, bigram_loss
from training.data import ContextWindows, Vocabulary, reference_split
from training.download import SURNAMES_TEXT_SHA256
from training.export import served_losses

REPO = Path(__file__).parents[1]
SURNAMES = REPO / "model_artifacts" / "us-surnames.pt"
LECTURE_RECIPE_DEV_LOSS = 2.2548  # the lecture-size recipe on this data (issue "Several models")
TOLERANCE = 0.005  # nats/char between meta.json's losses and the recomputed ones


@pytest.fixture(scope="module")
def artifact() -> Artifact:
    return load_artifact(SURNAMES)


@pytest.fixture(scope="module")
def words() -> list[str]:
    """The training words in the order of the data file, as the artifact stores them."""
    return list(load_artifact(SURNAMES).training_words)


def scripted_loss(artifact: Artifact, words: list[str]) -> float:
    windows = ContextWindows.build(words, Vocabulary(artifact.vocab), artifact.block_size)
    with torch.no_grad():
        return F.cross_entropy(artifact.module(windows.x), windows.y).item()


def test_the_words_inside_are_the_downloaded_census_list(artifact: Artifact, words: list[str]) -> None:
    rebuilt = "".join(f"{w}\n" for w in words).encode()
    assert hashlib.sha256(rebuilt).hexdigest() == SURNAMES_TEXT_SHA256 == artifact.meta.dataset_sha256
    assert len(words) == artifact.meta.dataset["words"] == 88_799


def test_the_dev_and_test_losses_in_meta_are_the_recomputed_ones(artifact: Artifact, words: list[str]) -> None:
    split = reference_split(words)
    assert scripted_loss(artifact, split.dev) == pytest.approx(artifact.meta.dev_loss, abs=TOLERANCE)
    assert scripted_loss(artifact, split.test) == pytest.approx(artifact.meta.test_loss, abs=TOLERANCE)


def test_the_recorded_dev_and_test_losses_are_what_the_score_path_gives(artifact: Artifact, words: list[str]) -> None:
    split = reference_split(words)
    assert round(served_losses(SURNAMES, split.dev), 5) == artifact.meta.dev_loss
    assert round(served_losses(SURNAMES, split.test), 5) == artifact.meta.test_loss


def test_it_beats_the_lecture_recipe_and_the_bigram_on_dev(artifact: Artifact, words: list[str]) -> None:
    split = reference_split(words)
    vocab = Vocabulary(artifact.vocab)
    bigram = bigram_loss(
        bigram_log_probs(ContextWindows.build(split.train, vocab, 1), vocab.size),
        ContextWindows.build(split.dev, vocab, 1),
    )
    assert artifact.meta.dev_loss < LECTURE_RECIPE_DEV_LOSS < bigram


def test_it_is_lower_case_letters_and_small(artifact: Artifact) -> None:
    assert "".join(artifact.vocab) == ".abcdefghijklmnopqrstuvwxyz"
    assert artifact.meta.parameters is not None and artifact.meta.parameters < 200_000
    assert SURNAMES.stat().st_size < SHIPPED_MODEL.stat().st_size / 3  # its training words inside included


def test_its_card_records_the_command_the_data_and_the_losses(artifact: Artifact) -> None:
    card = (REPO / "model_artifacts" / "us-surnames.card.md").read_text()
    card_json = json.loads((REPO / "model_artifacts" / "us-surnames.card.json").read_text())
    assert SURNAMES_TEXT_SHA256 in card and "1990 US Census surname list" in card
    assert "namegen train --recipe compact --data data/us-surnames.txt --out model_artifacts/us-surnames.pt" in card
    assert f"| dev | {artifact.meta.dev_loss:.4f} |" in card
    assert card_json["dev_loss"] == artifact.meta.dev_loss
    for plot in ("us-surnames.loss.png", "us-surnames.embeddings.png"):
        assert (REPO / "model_artifacts" / plot).is_file() and f"]({plot})" in card
