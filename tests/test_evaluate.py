"""training.evaluate: losses recomputed from a tiny artifact's TorchScript forward."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from synthetic import syllable_words, tiny_train_config

from training.bigram import bigram_log_probs, bigram_loss
from training.data import ContextWindows, Vocabulary, read_words, reference_split
from training.evaluate import dev_loss_on_reference_split, evaluate_file, main
from training.export import export_artifact
from training.model import ModelConfig, loss_on
from training.train import SplitWindows, train

pytestmark = pytest.mark.training

BLOCK = 3


@dataclass
class Tiny:
    artifact: Path
    data: Path
    words: list[str]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("evaluate")
    data = root / "tiny.txt"
    data.write_text("\n".join(syllable_words(300, seed=2)) + "\n", encoding="utf-8")
    words = read_words(data)
    vocab = Vocabulary.from_words(words)
    model = ModelConfig(vocab_size=vocab.size, block_size=BLOCK, n_embd=4, n_hidden=16)
    config = tiny_train_config(model, steps=80, warmup_steps=5)
    windows = SplitWindows.build(reference_split(words), vocab, BLOCK)
    result = train(config, windows, progress=False)
    out = root / "tiny.pt"
    export_artifact(
        result, loss_on(result.model, windows.test.x, windows.test.y), config, "tiny", vocab, words, data, windows, out
    )
    torch.set_num_threads(threads)
    return Tiny(out, data, words)


def scripted_loss(artifact: Path, words: list[str], vocab: Vocabulary) -> float:
    """The expected value, straight from torch: load the file, build windows, cross-entropy."""
    module = torch.jit.load(str(artifact))
    windows = ContextWindows.build(words, vocab, BLOCK)
    with torch.no_grad():
        return F.cross_entropy(module(windows.x), windows.y).item()


def test_reference_rows_are_the_scripted_losses_of_train_dev_and_test(tiny: Tiny) -> None:
    _, rows, same_data = evaluate_file(tiny.artifact, tiny.data)
    split = reference_split(tiny.words)
    vocab = Vocabulary.from_words(tiny.words)
    bigram = bigram_log_probs(ContextWindows.build(split.train, vocab, 1), vocab.size)
    assert same_data
    assert [r.split for r in rows] == ["train", "dev", "test"]
    for row, part in zip(rows, (split.train, split.dev, split.test), strict=True):
        windows = ContextWindows.build(part, vocab, BLOCK)
        assert row.words == len(part)
        assert row.windows == len(windows) == sum(len(w) + 1 for w in part)
        assert row.loss == pytest.approx(scripted_loss(tiny.artifact, part, vocab), abs=1e-5)
        assert row.perplexity == pytest.approx(math.exp(row.loss))
        assert row.bigram_loss == pytest.approx(bigram_loss(bigram, windows), abs=1e-6)


def test_recorded_losses_come_from_meta_and_match_the_recomputed_ones(tiny: Tiny) -> None:
    _, rows, _ = evaluate_file(tiny.artifact, tiny.data)
    meta = json.loads(tiny.artifact.with_suffix(".card.json").read_text())
    by_split = {r.split: r for r in rows}
    assert by_split["dev"].meta_loss == meta["dev_loss"]
    assert by_split["dev"].loss == pytest.approx(meta["dev_loss"], abs=1e-4)
    assert by_split["test"].loss == pytest.approx(meta["test_loss"], abs=1e-4)


def test_split_all_scores_the_whole_file_in_one_row(tiny: Tiny) -> None:
    _, rows, _ = evaluate_file(tiny.artifact, tiny.data, "all")
    vocab = Vocabulary.from_words(tiny.words)
    assert [(r.split, r.words) for r in rows] == [("all", len(tiny.words))]
    assert rows[0].loss == pytest.approx(scripted_loss(tiny.artifact, tiny.words, vocab), abs=1e-5)
    assert rows[0].meta_loss is None


def test_dev_loss_helper_is_the_dev_row(tiny: Tiny) -> None:
    vocab = Vocabulary.from_words(tiny.words)
    expected = scripted_loss(tiny.artifact, reference_split(tiny.words).dev, vocab)
    assert dev_loss_on_reference_split(tiny.artifact, tiny.data) == pytest.approx(expected, abs=1e-5)


def test_another_file_is_scored_but_not_compared_with_meta(tiny: Tiny, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("kalo\nmira\nnesu\nanel\ntika\nlomi\nraka\nsuti\nelan\nmine\n", encoding="utf-8")
    _, rows, same_data = evaluate_file(tiny.artifact, other, "all")
    assert not same_data
    assert rows[0].meta_loss is None
    assert rows[0].words == 10


def test_command_prints_a_table_with_one_row_per_split(tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny.artifact), str(tiny.data)]) == 0
    out = capsys.readouterr().out
    _, rows, _ = evaluate_file(tiny.artifact, tiny.data)
    for row in rows:
        assert any(line.startswith(row.split) and f"{row.loss:.4f}" in line for line in out.splitlines())


def test_command_json_output_carries_the_rows(tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny.artifact), str(tiny.data), "--split", "dev", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trained_on_this_file"] is True
    assert report["block_size"] == BLOCK
    assert [r["split"] for r in report["rows"]] == ["dev"]
    assert report["rows"][0]["loss"] == pytest.approx(dev_loss_on_reference_split(tiny.artifact, tiny.data))


def test_characters_outside_the_vocabulary_are_named(
    tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = tmp_path / "w.txt"
    words.write_text("kalo\nzoë\nmiQ\n", encoding="utf-8")
    assert main([str(tiny.artifact), str(words)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line, no traceback
    assert "vocabulary: 'Q' 'z' 'ë'" in err  # every unknown character, sorted


def test_an_item_with_the_boundary_token_is_a_clear_error(
    tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = tmp_path / "w.txt"
    words.write_text("kalo\nmi.ra\n", encoding="utf-8")
    assert main([str(tiny.artifact), str(words)]) == 2
    assert "boundary token" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["artifact", "words"])
def test_a_missing_file_is_a_clear_error(
    tiny: Tiny, tmp_path: Path, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    args = [str(missing), str(tiny.data)] if which == "artifact" else [str(tiny.artifact), str(missing)]
    assert main(args) == 2
    kind = "model" if which == "artifact" else "data"
    assert capsys.readouterr().err == f"namegen: error: {missing}: {kind} file not found\n"


def test_a_file_that_is_not_an_artifact_is_a_clear_error(
    tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a model")
    assert main([str(fake), str(tiny.data)]) == 2
    assert capsys.readouterr().err == (
        f"namegen: error: {fake}: not a TorchScript archive "
        "(a namegen model is a .pt file written by `namegen train`)\n"
    )
