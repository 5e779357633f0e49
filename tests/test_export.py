"""training.export: a tiny trained model survives the TorchScript round trip with its metadata."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from synthetic import SYLLABLES, syllable_words, tiny_train_config

from app.engine.artifact import load_artifact
from training.bigram import bigram_log_probs, bigram_loss
from training.data import Vocabulary, read_words, reference_split
from training.export import export_artifact
from training.model import ModelConfig, loss_on
from training.recipes import TrainConfig
from training.train import SplitWindows, TrainResult, train


@dataclass
class Exported:
    path: Path
    data: Path
    words: list[str]
    vocab: Vocabulary
    config: TrainConfig
    windows: SplitWindows
    result: TrainResult
    test_loss: float


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("export")
    data = root / "tiny.txt"
    data.write_text("\n".join(syllable_words(300, seed=1, syllables=[*SYLLABLES, "yo"])) + "\n", encoding="utf-8")
    words = read_words(data)
    vocab = Vocabulary.from_words(words)
    model = ModelConfig(vocab_size=vocab.size, block_size=4, n_embd=5, n_hidden=24, n_layers=2, layer_norm=True)
    config = tiny_train_config(model, steps=120)
    windows = SplitWindows.build(reference_split(words), vocab, 4)
    result = train(config, windows, progress=False)
    test_loss = loss_on(result.model, windows.test.x, windows.test.y)
    out = root / "tiny.pt"
    export_artifact(result, test_loss, config, "tiny", vocab, words, data, windows, out)
    torch.set_num_threads(threads)
    return Exported(out, data, words, vocab, config, windows, result, test_loss)


def extra_file(path: Path, name: str) -> bytes:
    extra = {name: ""}
    torch.jit.load(str(path), _extra_files=extra)
    raw = extra[name]
    return raw if isinstance(raw, bytes) else raw.encode()


def test_torchscript_logits_equal_the_eager_model_logits(exported: Exported) -> None:
    scripted = torch.jit.load(str(exported.path))
    contexts = torch.cat([exported.windows.dev.x, torch.randint(0, exported.vocab.size, (500, 4))])
    with torch.no_grad():
        assert torch.allclose(scripted(contexts), exported.result.model(contexts), atol=1e-5, rtol=0)


def test_scripted_fast_path_methods_equal_the_eager_ones(exported: Exported) -> None:
    scripted = torch.jit.load(str(exported.path))
    with torch.no_grad():
        tables = scripted.position_tables()
        assert torch.allclose(tables, exported.result.model.position_tables(), atol=1e-6)
        pre = torch.randn(8, 24)
        assert torch.allclose(
            scripted.logits_from_first_layer(pre), exported.result.model.logits_from_first_layer(pre), atol=1e-5
        )


def test_meta_json_describes_model_data_and_losses(exported: Exported) -> None:
    meta = json.loads(extra_file(exported.path, "meta.json"))
    windows, config = exported.windows, exported.config
    bigram = bigram_log_probs(windows.train, exported.vocab.size)
    assert meta["format"] == "namegen-mlp"
    assert meta["format_version"] == 1
    assert meta["vocab"] == list(exported.vocab.chars) and meta["vocab"][0] == "."
    assert meta["block_size"] == 4
    assert meta["recipe"] == "tiny"
    assert meta["hyperparameters"]["n_hidden"] == 24 and meta["hyperparameters"]["n_layers"] == 2
    assert meta["hyperparameters"]["steps"] == config.steps and meta["hyperparameters"]["lr"] == config.lr
    assert meta["parameters"] == exported.result.model.num_parameters()
    assert meta["dev_loss"] == pytest.approx(exported.result.dev_loss, abs=1e-5)
    assert meta["test_loss"] == pytest.approx(exported.test_loss, abs=1e-5)
    assert meta["train_loss"] == pytest.approx(exported.result.train_loss, abs=1e-5)
    assert meta["bigram_dev_loss"] == pytest.approx(bigram_loss(bigram, windows.dev), abs=1e-5)
    assert meta["bigram_test_loss"] == pytest.approx(bigram_loss(bigram, windows.test), abs=1e-5)
    assert meta["best_step"] == exported.result.best_step
    assert meta["history"] == exported.result.history
    dataset = meta["dataset"]
    assert dataset["sha256"] == hashlib.sha256(exported.data.read_bytes()).hexdigest()
    assert dataset["words"] == len(exported.words)
    assert dataset["split"] == {"train": len(windows.train), "dev": len(windows.dev), "test": len(windows.test)}


def test_meta_dev_loss_is_reproduced_by_the_scripted_forward(exported: Exported) -> None:
    meta = json.loads(extra_file(exported.path, "meta.json"))
    scripted = torch.jit.load(str(exported.path))
    with torch.no_grad():
        logits = scripted(exported.windows.dev.x)
    recomputed = torch.nn.functional.cross_entropy(logits, exported.windows.dev.y).item()
    assert recomputed == pytest.approx(meta["dev_loss"], abs=1e-4)


def test_words_file_holds_every_word_of_every_split_in_file_order(exported: Exported) -> None:
    stored = gzip.decompress(extra_file(exported.path, "words.txt.gz")).decode()
    assert stored.split("\n") == exported.words


def test_load_artifact_accepts_the_export(exported: Exported) -> None:
    artifact = load_artifact(exported.path)
    assert artifact.vocab == exported.vocab.chars
    assert artifact.block_size == 4
    assert artifact.vocab_size == exported.vocab.size
    assert artifact.words == frozenset(exported.words)


def test_model_card_and_plots_are_written_beside_the_artifact(exported: Exported) -> None:
    card = exported.path.with_suffix(".card.md").read_text()
    assert f"| dev | {exported.result.dev_loss:.4f} |" in card
    card_json = json.loads(exported.path.with_suffix(".card.json").read_text())
    assert "history" not in card_json and card_json["dev_loss"] == pytest.approx(exported.result.dev_loss, abs=1e-5)
    for suffix in (".loss.png", ".embeddings.png"):
        assert exported.path.with_suffix(suffix).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_artifact_is_a_zip_with_the_extra_files_inside(exported: Exported) -> None:
    names = zipfile.ZipFile(exported.path).namelist()
    assert any(n.endswith("extra/meta.json") for n in names)
    assert any(n.endswith("extra/words.txt.gz") for n in names)
