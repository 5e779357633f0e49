"""The shipped artifact's claims, recomputed from its TorchScript forward on the reference data.

Nothing here depends on the artifact's weights: every expected value is either
read from its meta.json or recomputed now from the data file and the scripted
forward, so the test holds for whichever artifact is shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from app.engine.artifact import Artifact, load_artifact
from app.hashing import file_sha256
from training.bigram import bigram_log_probs, bigram_loss
from training.data import ContextWindows, Vocabulary, read_words, reference_split
from training.evaluate import evaluate_file
from training.export import served_losses

REPO = Path(__file__).parents[1]
NAMES = REPO.parent / "shared/data/names.txt"  # ../shared beside the repository, as in CI
SHIPPED = REPO / "model_artifacts" / "names-mlp.pt"
MODEL_QUALITY_BAR = 1.95  # issue "Model quality": dev loss of the shipped artifact, from its forward alone
TOLERANCE = 0.005  # nats/char between meta.json's losses and the recomputed ones

pytestmark = pytest.mark.skipif(not NAMES.is_file(), reason=f"{NAMES} absent (python -m training.download)")


@dataclass(frozen=True)
class Recomputed:
    artifact: Artifact
    words: list[str]
    dev_loss: float
    test_loss: float
    bigram_dev_loss: float


def scripted_loss(artifact: Artifact, words: list[str]) -> float:
    """Mean nats per character (end token included) of the scripted forward on `words`."""
    windows = ContextWindows.build(words, Vocabulary(artifact.vocab), artifact.block_size)
    with torch.no_grad():
        return F.cross_entropy(artifact.module(windows.x), windows.y).item()


def recompute(artifact_path: Path = SHIPPED, data: Path = NAMES) -> Recomputed:
    """The shipped artifact's dev and test losses on the reference split, from its forward alone."""
    artifact = load_artifact(artifact_path)
    words = read_words(data)
    split = reference_split(words)
    vocab = Vocabulary(artifact.vocab)
    bigram = bigram_log_probs(ContextWindows.build(split.train, vocab, 1), vocab.size)
    return Recomputed(
        artifact,
        words,
        scripted_loss(artifact, split.dev),
        scripted_loss(artifact, split.test),
        bigram_loss(bigram, ContextWindows.build(split.dev, vocab, 1)),
    )


@pytest.fixture(scope="module")
def shipped() -> Recomputed:
    return recompute()


def test_dev_loss_in_meta_is_the_recomputed_dev_loss(shipped: Recomputed) -> None:
    assert shipped.dev_loss == pytest.approx(shipped.artifact.meta.dev_loss, abs=TOLERANCE)


def test_test_loss_in_meta_is_the_recomputed_test_loss(shipped: Recomputed) -> None:
    assert shipped.test_loss == pytest.approx(shipped.artifact.meta.test_loss, abs=TOLERANCE)


def test_the_bigram_baseline_recorded_for_it_is_the_recomputed_one(shipped: Recomputed) -> None:
    assert shipped.artifact.meta.bigram_dev_loss == pytest.approx(shipped.bigram_dev_loss, abs=1e-4)


def test_the_model_generalizes_far_beyond_the_bigram_on_unseen_names(shipped: Recomputed) -> None:
    # Dev names were never trained on: a memorizing model would do no better than the bigram on them.
    assert shipped.bigram_dev_loss - shipped.dev_loss > 0.4


def test_vocab_is_the_boundary_then_the_data_alphabet(shipped: Recomputed) -> None:
    assert shipped.artifact.meta.vocab == Vocabulary.from_words(shipped.words).chars
    assert shipped.artifact.vocab[0] == "."


def test_block_size_agrees_with_the_hyperparameters_and_the_network(shipped: Recomputed) -> None:
    meta = shipped.artifact.meta
    assert meta.block_size == meta.hyperparameters["block_size"] == shipped.artifact.block_size
    with torch.no_grad():
        tables = shipped.artifact.module.position_tables()
    assert tables.shape[:2] == (meta.block_size, len(meta.vocab))


def test_dataset_is_the_reference_file(shipped: Recomputed) -> None:
    meta = shipped.artifact.meta
    assert meta.dataset_sha256 == file_sha256(NAMES)
    assert meta.dataset["words"] == len(shipped.words)
    assert shipped.artifact.words == frozenset(shipped.words)


def test_the_evaluate_command_reports_the_same_losses(shipped: Recomputed) -> None:
    # The dev and test rows only: the train row would triple the cost of this file.
    for split, expected in (("dev", shipped.dev_loss), ("test", shipped.test_loss)):
        _, rows, same_data = evaluate_file(SHIPPED, NAMES, split)
        assert same_data
        assert [r.split for r in rows] == [split]
        assert rows[0].loss == pytest.approx(expected, abs=1e-5)


def test_the_shipped_model_meets_the_model_quality_bar(shipped: Recomputed) -> None:
    assert shipped.dev_loss <= MODEL_QUALITY_BAR


@pytest.mark.parametrize("name", ["names-mlp", "lecture-mlp"])
def test_the_recorded_dev_and_test_losses_are_what_the_score_path_gives(name: str) -> None:
    """meta.json's losses, to their 5 decimals, are what the service's scorer (the /score path) gives today."""
    path = REPO / "model_artifacts" / f"{name}.pt"
    split = reference_split(read_words(NAMES))
    meta = load_artifact(path).meta
    assert round(served_losses(path, split.dev), 5) == meta.dev_loss
    assert round(served_losses(path, split.test), 5) == meta.test_loss
