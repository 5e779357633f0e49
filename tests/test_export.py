"""training.export: a tiny trained model survives the TorchScript round trip with its metadata."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from synthetic import SYLLABLES, syllable_words, tiny_train_config

import training.export
from app.engine.artifact import ArtifactMeta, load_artifact, write_artifact
from training.bigram import bigram_log_probs, bigram_loss
from training.data import Vocabulary, read_words, reference_split
from training.export import LOGIT_RTOL, ExportCheckError, export_artifact, script_and_check
from training.model import MemberMLP, ModelConfig, NameMLP, ServedNameMLP, loss_on
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


@pytest.mark.training
def test_torchscript_logits_equal_the_eager_model_logits(exported: Exported) -> None:
    scripted = torch.jit.load(str(exported.path))
    contexts = torch.cat([exported.windows.dev.x, torch.randint(0, exported.vocab.size, (500, 4))])
    with torch.no_grad():
        assert torch.allclose(scripted(contexts), exported.result.model(contexts), atol=1e-5, rtol=0)


@pytest.mark.training
def test_scripted_fast_path_methods_equal_the_eager_ones(exported: Exported) -> None:
    scripted = torch.jit.load(str(exported.path))
    with torch.no_grad():
        tables = scripted.position_tables()
        assert torch.allclose(tables, exported.result.model.position_tables(), atol=1e-6)
        pre = torch.randn(8, 24)
        assert torch.allclose(
            scripted.logits_from_first_layer(pre), exported.result.model.logits_from_first_layer(pre), atol=1e-5
        )


@pytest.mark.training
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


@pytest.mark.training
def test_meta_dev_loss_is_reproduced_by_the_scripted_forward(exported: Exported) -> None:
    meta = json.loads(extra_file(exported.path, "meta.json"))
    scripted = torch.jit.load(str(exported.path))
    with torch.no_grad():
        logits = scripted(exported.windows.dev.x)
    recomputed = torch.nn.functional.cross_entropy(logits, exported.windows.dev.y).item()
    assert recomputed == pytest.approx(meta["dev_loss"], abs=1e-4)


@pytest.mark.training
def test_words_file_holds_every_word_of_every_split_in_file_order(exported: Exported) -> None:
    stored = gzip.decompress(extra_file(exported.path, "words.txt.gz")).decode()
    assert stored.split("\n") == exported.words


@pytest.mark.training
def test_load_artifact_accepts_the_export(exported: Exported) -> None:
    artifact = load_artifact(exported.path)
    assert artifact.vocab == exported.vocab.chars
    assert artifact.block_size == 4
    assert artifact.vocab_size == exported.vocab.size
    assert artifact.words == frozenset(exported.words)


def test_a_record_written_reads_back_equal_with_the_words_in_order(tmp_path: Path) -> None:
    meta = ArtifactMeta(
        vocab=(".", "a", "b"),
        block_size=2,
        hyperparameters={"n_hidden": 4},
        recipe="tiny",
        train_loss=1.25,
        dev_loss=2,  # a whole number stays one
        test_loss=1.5,
        dataset={"name": "ab.txt", "sha256": "0" * 64},
        command="namegen train",
        history=({"step": 1, "train_loss": 1.5, "dev_loss": 2.5, "seconds": 0.1},),
        mean_loss_quantiles=(0.5, 0.5, 3.25),
        served={"precision": "float32"},
        extra={"note": ["kept", 1]},
    )
    path = tmp_path / "ab.pt"
    module = torch.jit.script(NameMLP(ModelConfig(vocab_size=3, block_size=2, n_embd=2, n_hidden=4)).eval())
    write_artifact(path, module, meta, ["ab", "ba", "ab"])
    artifact = load_artifact(path)
    assert artifact.meta == meta
    assert artifact.training_words == ("ab", "ba", "ab") and artifact.words == {"ab", "ba"}
    assert (
        json.loads(extra_file(path, "meta.json"))["dev_loss"] == 2
        and '"dev_loss": 2,' in extra_file(path, "meta.json").decode()
    )


@pytest.mark.parametrize("name", ["names-mlp", "lecture-mlp", "us-surnames"])
def test_a_shipped_artifact_rewritten_has_the_same_meta_json_bytes(name: str, tmp_path: Path) -> None:
    """What a re-export keeps: every key, its value and its place, byte for byte."""
    source = Path(__file__).parents[1] / "model_artifacts" / f"{name}.pt"
    artifact = load_artifact(source)
    copy = tmp_path / f"{name}.pt"
    write_artifact(copy, artifact.module, artifact.meta, artifact.training_words)
    assert extra_file(copy, "meta.json") == extra_file(source, "meta.json")
    assert extra_file(copy, "words.txt.gz") == extra_file(source, "words.txt.gz")


@pytest.mark.training
def test_model_card_and_plots_are_written_beside_the_artifact(exported: Exported) -> None:
    card = exported.path.with_suffix(".card.md").read_text()
    assert f"| dev | {exported.result.dev_loss:.4f} |" in card
    card_json = json.loads(exported.path.with_suffix(".card.json").read_text())
    assert "history" not in card_json and card_json["dev_loss"] == pytest.approx(exported.result.dev_loss, abs=1e-5)
    for suffix in (".loss.png", ".embeddings.png"):
        assert exported.path.with_suffix(suffix).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.training
def test_the_artifact_is_a_zip_with_the_extra_files_inside(exported: Exported) -> None:
    names = zipfile.ZipFile(exported.path).namelist()
    assert any(n.endswith("extra/meta.json") for n in names)
    assert any(n.endswith("extra/words.txt.gz") for n in names)


@pytest.mark.training
def test_the_export_check_allows_float32_rounding_that_grows_with_the_logits(exported: Exported) -> None:
    # A model so sure of itself that its log-probabilities reach thousands: float32 rounds them to steps of about
    # 1e-4 or more, so the served layout's other order of sums differs by more than any fixed 1e-5.
    model = copy.deepcopy(exported.result.model)
    with torch.no_grad():
        for member in model.members:
            assert isinstance(member, MemberMLP)
            member.head.weight.mul_(1000)
    probe = exported.windows.dev.x[:4096]
    scripted = script_and_check(model, probe)
    with torch.no_grad():
        eager = model(probe)
        difference = float((scripted(probe) - eager).abs().max())
    assert float(eager.abs().max()) > 1000
    assert 1e-5 < difference <= LOGIT_RTOL * float(eager.abs().max())


@pytest.mark.training
def test_the_export_check_says_by_how_much_a_wrong_layout_differs(
    exported: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bias_off_by_half(model: NameMLP, int8: bool = False) -> ServedNameMLP:
        served = ServedNameMLP(model, int8)
        served.head_bias[..., 1] += 0.5
        return served

    monkeypatch.setattr(training.export, "ServedNameMLP", bias_off_by_half)
    model, probe = exported.result.model, exported.windows.dev.x[:4096]
    with torch.no_grad():
        log_probs = model(probe)
        shifted = log_probs.clone()
        shifted[:, 1] += 0.5
        expected = float((torch.log_softmax(shifted, dim=1) - log_probs).abs().max())
    scale = max(1.0, float(log_probs.abs().max()))
    with pytest.raises(ExportCheckError) as raised:
        script_and_check(model, probe)
    match = re.fullmatch(
        r"export check failed: the exported forward differs from the trained model by up to ([\d.e-]+) in a "
        r"log-probability \(allowed ([\d.e-]+): 1e-05 of the largest, ([\d.]+)\)",
        str(raised.value),
    )
    assert match is not None, str(raised.value)
    assert float(match[1]) == pytest.approx(expected, rel=1e-3)
    assert float(match[2]) == pytest.approx(1e-5 * scale, rel=1e-3)
    assert float(match[3]) == pytest.approx(scale, rel=1e-3)
