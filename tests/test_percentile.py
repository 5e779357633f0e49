"""/score's percentile: where a text's mean loss stands among the reference dev names.

The artifact carries mean_loss_quantiles (0 .. 100 %) of the per-name mean loss over the reference dev split,
written at export. A score's percentile is the share (%) of those names whose mean loss is higher than the
text's, interpolated between the quantiles. Expected values here are computed independently: numpy's
interpolation over the quantiles, the Scorer's own per-name losses, or the empirical share of dev names.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from synthetic import SYLLABLES, syllable_words, tiny_train_config

from app.engine.artifact import Artifact, load_artifact
from app.engine.scorer import Scorer
from training.data import ContextWindows, Vocabulary, read_words, reference_split
from training.export import QUANTILE_POINTS, export_artifact, mean_loss_quantiles
from training.model import ModelConfig, loss_on
from training.train import SplitWindows, train

REPO = Path(__file__).parents[1]
NAMES = REPO.parent / "shared/data/names.txt"
TEXTS = ["emma", "olivia", "kaylen", "xqzt", "a", "christopher", "zzzzqqq", "bob"]
needs_names = pytest.mark.skipif(not NAMES.is_file(), reason=f"{NAMES} absent (python -m training.download)")


def with_quantiles(artifact: Artifact, quantiles: list[float] | None) -> Artifact:
    meta = dataclasses.replace(artifact.meta, mean_loss_quantiles=None if quantiles is None else tuple(quantiles))
    return dataclasses.replace(artifact, meta=meta)


def numpy_percentile(quantiles: Sequence[float], mean_loss: float) -> float:
    """100 minus the text's place among the quantiles (np.interp clamps to 0 and 100 outside them)."""
    levels = np.linspace(0, 100, len(quantiles))
    return float(100 - np.interp(mean_loss, quantiles, levels))


def dev_mean_losses(artifact: Artifact) -> list[float]:
    """Each reference dev name's mean_loss exactly as /score computes it."""
    dev = reference_split(read_words(NAMES)).dev
    return [r.mean_loss for r in Scorer(artifact).score_many(dev)]


def test_percentile_interpolates_between_the_two_quantiles_around_the_mean_loss(artifact: Artifact) -> None:
    mean = Scorer(with_quantiles(artifact, None)).score_many(["emma"])[0].mean_loss
    # Eleven quantiles (0, 10, ..., 100 %); emma's mean loss sits 30 % of the way from the 40 % to the 50 % one.
    quantiles = [mean - 4 + 0.1 * i for i in range(5)] + [mean + 0.7 + 0.1 * i for i in range(6)]
    quantiles[4] = mean - 0.3
    result = Scorer(with_quantiles(artifact, quantiles)).score_many(["emma"])[0]
    assert result.percentile == pytest.approx(100 - (40 + 10 * 0.3 / 1.0), abs=1e-9)  # 57.0


def test_percentile_is_100_below_the_lowest_quantile_and_0_above_the_highest(artifact: Artifact) -> None:
    mean = Scorer(with_quantiles(artifact, None)).score_many(["emma"])[0].mean_loss
    assert Scorer(with_quantiles(artifact, [mean + 1, mean + 2])).score_many(["emma"])[0].percentile == 100.0
    assert Scorer(with_quantiles(artifact, [mean - 2, mean - 1])).score_many(["emma"])[0].percentile == 0.0
    assert Scorer(with_quantiles(artifact, [mean - 2, mean])).score_many(["emma"])[0].percentile == 0.0


def test_percentile_is_null_without_quantiles_in_the_artifact(artifact: Artifact) -> None:
    # Quantiles that are there but unusable (too few, descending, not numbers) are refused when the file is read.
    assert Scorer(with_quantiles(artifact, None)).score_many(["emma"])[0].percentile is None


def test_shipped_percentile_equals_numpy_interpolation_in_the_shipped_quantiles(artifact: Artifact) -> None:
    quantiles = artifact.meta.mean_loss_quantiles
    assert quantiles is not None
    assert len(quantiles) == QUANTILE_POINTS and list(quantiles) == sorted(quantiles)
    assert all(a < b for a, b in itertools.pairwise(quantiles))  # np.interp needs them strict
    for result in Scorer(artifact).score_many(TEXTS):
        assert result.percentile is not None and 0 <= result.percentile <= 100
        assert result.percentile == pytest.approx(numpy_percentile(quantiles, result.mean_loss), abs=1e-9)


@needs_names
def test_shipped_quantiles_are_those_of_the_dev_names_mean_losses(artifact: Artifact) -> None:
    losses = dev_mean_losses(artifact)
    assert len(losses) == 3203
    expected = np.quantile(losses, np.linspace(0, 1, QUANTILE_POINTS))
    assert list(artifact.meta.mean_loss_quantiles or ()) == pytest.approx(expected.tolist(), abs=2e-6)


@needs_names
def test_percentile_is_close_to_the_share_of_dev_names_with_a_higher_mean_loss(artifact: Artifact) -> None:
    losses = np.array(dev_mean_losses(artifact))
    for result in Scorer(artifact).score_many(TEXTS):
        share = 100 * float(np.mean(losses > result.mean_loss))
        assert result.percentile == pytest.approx(share, abs=1.0), result.text  # 1 % apart: quantile spacing


def test_score_endpoint_returns_the_percentile(client: TestClient, artifact: Artifact) -> None:
    body = client.post("/score", json={"text": "emma"}).json()
    quantiles = artifact.meta.mean_loss_quantiles
    assert quantiles is not None
    assert body["percentile"] == pytest.approx(numpy_percentile(quantiles, body["mean_loss"]), abs=1e-9)


@pytest.mark.training
def test_export_writes_the_dev_names_mean_loss_quantiles(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    data = tmp_path / "tiny.txt"
    data.write_text("\n".join(syllable_words(300, seed=3, syllables=[*SYLLABLES, "yo"])) + "\n", encoding="utf-8")
    words = read_words(data)
    vocab = Vocabulary.from_words(words)
    model = ModelConfig(vocab_size=vocab.size, block_size=3, n_embd=4, n_hidden=16, n_layers=1, layer_norm=False)
    config = tiny_train_config(model, steps=60)
    split = reference_split(words)
    windows = SplitWindows.build(split, vocab, 3)
    result = train(config, windows, progress=False)
    out = tmp_path / "tiny.pt"
    test_loss = loss_on(result.model, windows.test.x, windows.test.y)
    export_artifact(result, test_loss, config, "tiny", vocab, words, data, windows, out)
    torch.set_num_threads(threads)

    exported = load_artifact(out)
    per_name = [r.mean_loss for r in Scorer(exported).score_many(split.dev)]
    expected = np.quantile(per_name, np.linspace(0, 1, QUANTILE_POINTS))
    assert list(exported.meta.mean_loss_quantiles or ()) == pytest.approx(expected.tolist(), abs=2e-6)


def test_mean_loss_quantiles_reads_names_back_from_their_windows(artifact: Artifact) -> None:
    names = ["emma", "olivia", "x", "zzzzqqq", "christopher"]
    windows = ContextWindows.build(names, Vocabulary(artifact.vocab), artifact.block_size)
    got = mean_loss_quantiles(artifact.module, windows, points=5, batch_size=7)  # batches cut names apart
    per_name = sorted(r.mean_loss for r in Scorer(artifact).score_many(names))
    assert got == pytest.approx(np.quantile(per_name, [0, 0.25, 0.5, 0.75, 1]).tolist(), abs=2e-6)
