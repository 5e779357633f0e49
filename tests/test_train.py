"""training.train: learning, determinism, resuming, the schedule and the time budget."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from synthetic import syllable_words, tiny_train_config

import training.train
from app.engine.artifact import load_artifact
from training.bigram import bigram_log_probs, bigram_loss
from training.data import Vocabulary, reference_split
from training.model import ModelConfig, NameMLP, loss_on
from training.recipes import TrainConfig
from training.train import SplitWindows, TrainResult, learning_rate, train


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """train() sets torch's thread count; one thread is fastest for tiny models on a shared machine."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def tiny_setup(steps: int = 300, dropout: float = 0.0) -> tuple[TrainConfig, SplitWindows]:
    words = syllable_words(400, seed=0)
    vocab = Vocabulary.from_words(words)
    model = ModelConfig(vocab_size=vocab.size, block_size=3, n_embd=6, n_hidden=32, dropout=dropout)
    config = tiny_train_config(model, steps=steps, eval_interval=50, seed=7)
    return config, SplitWindows.build(reference_split(words), vocab, 3)


def losses(history: list[dict[str, float]]) -> list[tuple[float, float, float]]:
    return [(h["step"], h["train_loss"], h["dev_loss"]) for h in history]


@pytest.mark.training
def test_training_lowers_dev_loss_below_the_bigram_baseline() -> None:
    config, windows = tiny_setup()
    result = train(config, windows, progress=False)
    start = math.log(config.model.vocab_size)  # near-uniform at initialisation
    bigram = bigram_loss(bigram_log_probs(windows.train, config.model.vocab_size), windows.dev)
    assert result.history[0]["dev_loss"] < start
    assert result.dev_loss < result.history[0]["dev_loss"] - 0.3
    assert result.dev_loss < bigram


@pytest.mark.training
def test_the_returned_model_is_the_best_on_dev() -> None:
    config, windows = tiny_setup()
    result = train(config, windows, progress=False)
    dev_losses = [h["dev_loss"] for h in result.history]
    assert result.dev_loss == min(dev_losses)
    assert result.best_step == result.history[dev_losses.index(min(dev_losses))]["step"]
    assert loss_on(result.model, windows.dev.x, windows.dev.y) == pytest.approx(result.dev_loss, abs=1e-6)
    assert not result.model.training


@pytest.mark.training
def test_the_same_seed_gives_the_same_losses() -> None:
    config, windows = tiny_setup(steps=150, dropout=0.1)
    first = train(config, windows, progress=False)
    second = train(config, windows, progress=False)
    assert losses(first.history) == losses(second.history)
    config.seed = 8
    other = train(config, windows, progress=False)
    assert losses(other.history) != losses(first.history)


class Interrupted(Exception):
    pass


def bar_that_interrupts_after(steps: int) -> Any:
    """A stand-in for tqdm that raises once `steps` optimizer steps have run, like a Ctrl-C."""

    class Bar:
        def __init__(self, *args: Any, initial: int = 0, **kwargs: Any) -> None:
            self.done = initial

        def update(self, n: int) -> None:
            self.done += n
            if self.done >= steps:
                raise Interrupted

        def set_postfix(self, **kwargs: Any) -> None:
            pass

        def close(self) -> None:
            pass

    return Bar


@pytest.mark.training
def test_resuming_from_a_checkpoint_gives_the_uninterrupted_losses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, windows = tiny_setup(steps=200, dropout=0.1)
    uninterrupted = train(config, windows, progress=False)

    checkpoint = tmp_path / "run.ckpt"
    with monkeypatch.context() as patch:
        patch.setattr(training.train, "tqdm", bar_that_interrupts_after(130))
        with pytest.raises(Interrupted):
            train(config, windows, checkpoint=checkpoint, progress=False)
    assert torch.load(checkpoint, weights_only=False)["step"] == 100  # the last evaluation before the crash
    resumed = train(config, windows, checkpoint=checkpoint, progress=False)

    assert losses(resumed.history) == losses(uninterrupted.history)
    assert resumed.best_step == uninterrupted.best_step
    assert resumed.train_loss == uninterrupted.train_loss


def test_step_schedule_drops_the_rate_tenfold_half_way() -> None:
    config = TrainConfig(steps=100, lr=0.1, schedule="step")
    assert learning_rate(config, 0) == 0.1
    assert learning_rate(config, 49) == 0.1
    assert learning_rate(config, 50) == pytest.approx(0.01)
    assert learning_rate(config, 99) == pytest.approx(0.01)


def test_cosine_schedule_warms_up_then_decays_to_the_floor() -> None:
    config = TrainConfig(steps=110, lr=1.0, schedule="cosine", warmup_steps=10, final_lr_ratio=0.01)
    assert learning_rate(config, 0) == pytest.approx(0.1)
    assert learning_rate(config, 9) == pytest.approx(1.0)
    assert learning_rate(config, 10) == pytest.approx(1.0)
    assert learning_rate(config, 60) == pytest.approx(0.01 + 0.5 * 0.99)  # half-way down the cosine
    assert learning_rate(config, 110) == pytest.approx(0.01)


@pytest.mark.training
def test_an_exhausted_time_budget_stops_after_one_step_with_an_evaluation() -> None:
    config, windows = tiny_setup(steps=10_000)
    result = train(config, windows, progress=False, time_budget=0.0)
    assert [h["step"] for h in result.history] == [1]
    assert result.best_step == 1


@pytest.mark.training
def test_bf16_autocast_training_learns_and_is_deterministic() -> None:
    config, windows = tiny_setup(steps=150, dropout=0.1)
    config.bf16_autocast = True
    first = train(config, windows, progress=False)
    second = train(config, windows, progress=False)
    assert losses(first.history) == losses(second.history)
    assert first.dev_loss < first.history[0]["dev_loss"] - 0.2
    # The kept weights are float32 and evaluation runs without autocast: the served model is a float32 model.
    assert all(p.dtype == torch.float32 for p in first.model.parameters())


@pytest.mark.training
def test_a_diverged_run_writes_no_model_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # NaN at every evaluation leaves no best step and a dev loss of inf: exporting that would write a card
    # reading "dev inf", so nothing is written and the command fails with one line.
    data = tmp_path / "words.txt"
    data.write_text("\n".join(syllable_words(60, seed=1)) + "\n", encoding="utf-8")
    out = tmp_path / "m.pt"

    def diverged(config: TrainConfig, windows: SplitWindows, **kwargs: Any) -> TrainResult:
        return TrainResult(NameMLP(config.model).eval(), 0, math.nan, math.inf, 0.0)

    monkeypatch.setattr(training.train, "train", diverged)
    status = training.train.main(["--data", str(data), "--recipe", "lecture", "--out", str(out), "--no-progress"])
    assert status == 1
    assert capsys.readouterr().err == (
        f"namegen: error: the dev or test loss is not finite (training diverged): {out} not written\n"
    )
    assert not out.exists()


def capitalized_csv(tmp_path: Path, words: list[str]) -> Path:
    """A table as people download them: a header, the names capitalized, a count and a gender per row."""
    rows = [f"{w.capitalize()},{(i * 37) % 1000 + 5},{'FM'[i % 2]}" for i, w in enumerate(words)]
    data = tmp_path / "names.csv"
    data.write_text("name,count,gender\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    return data


@pytest.mark.training
def test_train_reads_a_csv_by_its_name_column_and_says_what_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = syllable_words(60, seed=1)
    data, out = capitalized_csv(tmp_path, words), tmp_path / "m.pt"
    argv = ["--data", str(data), "--recipe", "lecture", "--steps", "5", "--out", str(out), "--no-progress"]
    assert training.train.main(argv) == 0
    capitalized = sorted(set("".join(w.capitalize() for w in words)))
    lower = sorted(set("".join(words)))
    assert capsys.readouterr().out.splitlines()[:2] == [
        f"read column 'name' of {data} (comma-separated, header row): 60 items ({len(set(words))} distinct)",
        f"note: {data} mixes upper and lower case: {words[0].capitalize()} and {words[0]} would be different names "
        f"({len(capitalized) + 1}-character vocabulary); --lowercase folds them ({len(lower) + 1} characters)",
    ]
    assert load_artifact(out).vocab == (".", *capitalized)  # the names only: no digit, comma or gender letter
    assert not out.with_suffix(".trained.pt").exists()  # kept only when the export fails


@pytest.mark.training
def test_train_lowercase_folds_the_names_and_records_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = syllable_words(60, seed=1)
    data, out = capitalized_csv(tmp_path, words), tmp_path / "m.pt"
    argv = ["--data", str(data), "--lowercase", "--recipe", "lecture", "--steps", "5", "--out", str(out)]
    assert training.train.main([*argv, "--no-progress"]) == 0
    assert "note:" not in capsys.readouterr().out
    artifact = load_artifact(out)
    assert artifact.vocab == (".", *sorted(set("".join(words))))
    assert artifact.words == frozenset(words)
    assert artifact.meta.command is not None and artifact.meta.command.endswith("--steps 5 --lowercase")
