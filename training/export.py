"""TorchScript export with the metadata inside the file, checked against the eager model."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from app.engine.artifact import (
    ArtifactMeta,
    load_artifact,
    write_artifact,
)
from app.hashing import file_sha256
from training.bigram import bigram_log_probs, bigram_loss
from training.data import ContextWindows, Vocabulary, reference_split, split_word_counts
from training.model import ModelConfig, NameMLP, ServedNameMLP
from training.model_card import write_card
from training.recipes import TrainConfig

# The served layout (ServedNameMLP) computes the trained model's function with its sums in another order (tables
# of embeddings times weights, tanh folded into sigmoids), so float32 rounding differs by a few units in the last
# place of the largest log-probabilities, growing with their magnitude. 1e-5 of it is about 80 float32 epsilons:
# far above that rounding, far below what a wrong layout (a dropped bias, dropout left on) changes.
LOGIT_RTOL = 1e-5


class ExportCheckError(RuntimeError):
    """The exported forward does not reproduce the trained model."""


def script_and_check(model: NameMLP, probe: torch.Tensor) -> torch.jit.ScriptModule:
    """Script the model in its serving layout (ServedNameMLP) and prove the scripted forward (and its fast path)
    match the eager model, to LOGIT_RTOL of the largest log-probability's magnitude."""
    model.eval()
    scripted = torch.jit.script(ServedNameMLP(model).eval())
    with torch.no_grad():
        eager = model(probe)
        script = scripted(probe)
        tables = scripted.position_tables()
        pre = sum(tables[k][probe[:, k]] for k in range(probe.shape[1]))
        fast = scripted.logits_from_first_layer(pre)
    scale = max(1.0, float(eager.abs().max()))
    tolerance = LOGIT_RTOL * scale
    for path, logits in (("forward", script), ("position-table path", fast)):
        difference = float((logits - eager).abs().max())
        if not difference <= tolerance:  # NaN fails too
            raise ExportCheckError(
                f"export check failed: the exported {path} differs from the trained model by up to {difference:.3g} "
                f"in a log-probability (allowed {tolerance:.3g}: {LOGIT_RTOL:g} of the largest, {scale:.3g})"
            )
    return scripted


QUANTILE_POINTS = 101  # 0 %, 1 %, ..., 100 %


def mean_loss_quantiles(
    module: torch.nn.Module, windows: ContextWindows, points: int = QUANTILE_POINTS, batch_size: int = 32768
) -> list[float]:
    """Quantiles (0 .. 100 %, `points` of them, ascending) of the per-name mean loss over `windows`.

    A name's mean loss is what /score reports as mean_loss: the mean of -ln p over its characters and its end
    token, through `module`'s forward in double precision. Names are read back from the windows: each one ends
    at the window whose target is the end token (id 0). The service places a scored text among these names.
    """
    losses = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            logits = module(windows.x[start : start + batch_size]).double()
            targets = windows.y[start : start + batch_size]
            losses.append(-torch.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1))
    per_window = torch.cat(losses)
    ends = windows.y == 0
    name_index = torch.cumsum(ends.long(), 0) - ends.long()  # windows of name k, its end token included
    count = int(ends.sum())
    if count == 0:
        raise ValueError("no complete name in the windows: cannot compute mean-loss quantiles")
    totals = torch.zeros(count, dtype=torch.float64).index_add_(0, name_index, per_window)
    lengths = torch.zeros(count, dtype=torch.float64).index_add_(0, name_index, torch.ones_like(per_window))
    levels = torch.linspace(0, 1, points, dtype=torch.float64)
    return [round(float(q), 6) for q in torch.quantile(totals / lengths, levels)]


def trained_meta(
    result: Any,
    test_loss: float,
    config: TrainConfig,
    recipe: str,
    vocab: Vocabulary,
    words: list[str],
    data_path: Path,
    windows: Any,
    command: str | None = None,
) -> ArtifactMeta:
    """meta.json of a trained model: its shape, its losses and the data it learnt from (the mean-loss quantiles
    are added at export, through the exported forward)."""
    bigram = bigram_log_probs(windows.train, vocab.size)
    return ArtifactMeta(
        vocab=vocab.chars,
        block_size=config.model.block_size,
        hyperparameters={**config.model.to_dict(), **{k: v for k, v in vars(config).items() if k != "model"}},
        recipe=recipe,
        parameters=result.model.num_parameters(),
        train_loss=round(result.train_loss, 5),
        dev_loss=round(result.dev_loss, 5),
        test_loss=round(test_loss, 5),
        bigram_dev_loss=round(bigram_loss(bigram, windows.dev), 5),
        bigram_test_loss=round(bigram_loss(bigram, windows.test), 5),
        best_step=result.best_step,
        dataset={
            "name": data_path.name,
            "sha256": file_sha256(data_path),
            "words": len(words),
            "distinct_words": len(set(words)),
            "split_words": split_word_counts(words),
            "split": {"train": len(windows.train), "dev": len(windows.dev), "test": len(windows.test)},
            "split_unit": "windows (characters + end tokens)",
        },
        training_seconds=round(result.seconds, 1),
        command=command or None,
        torch_version=torch.__version__,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        history=tuple(result.history),
    )


def save_trained(model: NameMLP, meta: ArtifactMeta, words: list[str], path: Path) -> None:
    """The trained weights as they are (a scripted NameMLP, not the serving layout) with meta.json and the words:
    what load_trained reads back, so that export_trained can run again without retraining."""
    write_artifact(path, torch.jit.script(model.eval()), meta, words)


def export_trained(model: NameMLP, meta: ArtifactMeta, words: list[str], out: Path) -> ArtifactMeta:
    """Write `out` (the serving layout, checked against `model`, with meta.json and the words), its model card and
    its plots. The check's probe is the dev split's first contexts, rebuilt from `words` as training split them."""
    vocab = Vocabulary(meta.vocab)
    dev = ContextWindows.build(reference_split(words).dev, vocab, meta.block_size)
    scripted = script_and_check(model, dev.x[:4096])
    meta = dataclasses.replace(meta, mean_loss_quantiles=tuple(mean_loss_quantiles(scripted, dev)))
    write_artifact(out, scripted, meta, words)
    write_card(meta, out)
    from training.plots import write_plots

    write_plots(model, vocab, list(meta.history or ()), out)
    return meta


def export_artifact(
    result: Any,
    test_loss: float,
    config: TrainConfig,
    recipe: str,
    vocab: Vocabulary,
    words: list[str],
    data_path: Path,
    windows: Any,
    out: Path,
    command: str | None = None,
) -> ArtifactMeta:
    """Write `out` (TorchScript + meta.json + word list), its model card and its plots. `command`: the command
    line that trained it, recorded in meta.json and the card."""
    meta = trained_meta(result, test_loss, config, recipe, vocab, words, data_path, windows, command)
    return export_trained(result.model, meta, words, out)


def served_losses(artifact_path: Path, words: list[str]) -> float:
    """Mean nats per character (end token included) of `words` through the service's own scoring path
    (app.engine.scorer.Scorer: the tables, the bucket padding and the precision /score uses)."""
    from app.engine.scorer import Scorer

    scorer = Scorer(load_artifact(artifact_path))
    total = count = 0.0
    for start in range(0, len(words), 1000):
        for result in scorer.score_many(words[start : start + 1000]):
            total += result.total_loss
            count += len(result.chars)
    return total / count


INT8_TOLERANCE = 0.01  # largest KL(trained || int8), nats, the int8 layers may make to any probe context


def int8_scripted(model: NameMLP, probe: torch.Tensor) -> torch.jit.ScriptModule:
    """ServedNameMLP with its layers after the first in int8, scripted, and checked close to the eager model
    (the dev and test losses through the service decide whether it ships)."""
    scripted = torch.jit.script(ServedNameMLP(model, int8=True).eval())
    with torch.no_grad():
        trained = model(probe)
        # A divergence, not the largest log-probability difference: a token of probability 1e-4 may move by
        # a tenth of a nat without changing any draw or score noticeably.
        divergence = float((trained.exp() * (trained - scripted(probe))).sum(dim=1).max())
    if divergence > INT8_TOLERANCE:
        raise RuntimeError(f"export check failed: the int8 distributions diverge by {divergence:.4f} nats (KL)")
    return scripted


@dataclass
class TrainedArtifact:
    """An artifact's trained NameMLP (eval mode), its shape, its meta.json and the words inside it (in file order)."""

    model: NameMLP
    shape: ModelConfig
    meta: ArtifactMeta
    words: list[str]


def model_shape(meta: ArtifactMeta) -> ModelConfig:
    """The network's shape, from the hyperparameters training recorded."""
    hp = meta.hyperparameters
    return ModelConfig(**{k: hp[k] for k in ModelConfig.__dataclass_fields__ if k in hp})


def load_trained(path: Path, weights: Path | None = None) -> TrainedArtifact:
    """The NameMLP behind an artifact: its shape from meta.hyperparameters, its weights from `weights` (another
    artifact holding them as a NameMLP, when `path` is in the serving layout) or from `path` itself. Both are read
    by load_artifact (ArtifactError: not a model file); a state dict that is not a NameMLP's raises RuntimeError
    (load_state_dict's)."""
    artifact = load_artifact(path)
    shape = model_shape(artifact.meta)
    model = NameMLP(shape)
    source = artifact.module if weights is None else load_artifact(weights).module
    model.load_state_dict(source.state_dict())
    return TrainedArtifact(model.eval(), shape, artifact.meta, list(artifact.training_words))


def relaid(previous: torch.jit.ScriptModule, shape: ModelConfig, probe: torch.Tensor) -> torch.jit.ScriptModule:
    """A float32 artifact already in the serving layout (whose trained NameMLP was not kept) on the current
    ServedNameMLP: every tensor taken from the previous file as it is, nothing recomputed; checked to give the
    previous forward's outputs (to LOGIT_RTOL: the current float matmuls may group the rows differently)."""
    if previous.original_name != "ServedNameMLP" or bool(previous.int8):
        raise ValueError("only a float32 ServedNameMLP can be re-laid from its own tensors; pass its trained weights")
    served = ServedNameMLP(NameMLP(shape)).eval()  # the shapes and the code; its tensors are replaced below
    pairs: list[tuple[torch.nn.Module, Any]] = [(served, previous)]
    pairs += [(block, getattr(previous.deeper, str(i))) for i, block in enumerate(served.deeper)]
    for module, before in pairs:
        for name, value in list(vars(module).items()):
            if isinstance(value, torch.Tensor) and value.numel():
                kept = getattr(before, name)
                if kept.shape != value.shape:
                    raise ValueError(f"{name}: {tuple(kept.shape)} in the file, {tuple(value.shape)} for its shape")
                setattr(module, name, kept.clone())
    scripted = torch.jit.script(served)
    with torch.no_grad():
        expected, got = previous(probe), scripted(probe)
    tolerance = LOGIT_RTOL * max(1.0, float(expected.abs().max()))
    difference = float((got - expected).abs().max())
    if not difference <= tolerance:
        raise ExportCheckError(f"re-laid forward differs from the previous file's by {difference:.3g}")
    return scripted


def reexport_served(
    path: Path, data: Path, out: Path | None = None, int8: bool = False, weights: Path | None = None
) -> ArtifactMeta:
    """Re-export an artifact scripted from a NameMLP (its state dict loads into NameMLP with the config in
    meta.hyperparameters) in the serving layout, from the same weights: no retraining. A float32 artifact
    already in the serving layout whose trained weights were not kept is re-laid from its own tensors (relaid).

    Every meta.json key of `path` is carried over as it is at this moment, in its place; the dev and test losses
    (and the mean-loss quantiles) are recomputed through the new file, the dev and test losses through the service's
    scoring path. `weights`: another artifact holding the same trained weights as a NameMLP (when `path` itself
    was already re-exported).
    """
    from training.data import read_words, reference_split

    out = out or path
    artifact = load_artifact(path)
    previous, meta, words_all = artifact.module, artifact.meta, list(artifact.training_words)
    split = reference_split(read_words(data))
    windows = ContextWindows.build(split.dev, Vocabulary(meta.vocab), meta.block_size)
    source = "the trained weights"
    if weights is None and previous.original_name == "ServedNameMLP" and not int8:
        scripted = relaid(previous, model_shape(meta), windows.x[:4096])
        source = "the previous file's served tensors (its trained weights were not kept)"
    else:
        model = load_trained(path, weights).model  # fails loudly for anything but a NameMLP's weights
        scripted = script_and_check(model, windows.x[:4096])  # the float32 layout reproduces the trained model
        if int8:
            scripted = int8_scripted(model, windows.x[:4096])
    write_artifact(out, scripted, meta, words_all)  # first with the old meta, to score through the file itself
    served = {
        "layout": "ServedNameMLP: the members' layers stacked (float32 matmuls in products of 4 rows, int8 ones "
        "summed exactly in int32), tanh as a folded sigmoid, the first layer from the per-position tables",
        "precision": (
            "int8 in the layers after the first (plain int8 weights, one scale per output column; sigmoid inputs in "
            "fixed steps of 1/127; exact integer sums), float32 elsewhere"
            if int8
            else "float32"
        ),
        "losses_through": "app.engine.scorer.Scorer (the /score path)",
        "exported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "from": source,
        "torch_version": torch.__version__,
    }
    meta = dataclasses.replace(
        meta,
        dev_loss=round(served_losses(out, split.dev), 5),
        test_loss=round(served_losses(out, split.test), 5),
        mean_loss_quantiles=(
            None if meta.mean_loss_quantiles is None else tuple(mean_loss_quantiles(scripted, windows))
        ),
        served=served,
    )
    write_artifact(out, scripted, meta, words_all)
    write_card(meta, out)
    return meta


if __name__ == "__main__":
    import argparse

    from training.data import DEFAULT_DATA

    parser = argparse.ArgumentParser(description=reexport_served.__doc__, allow_abbrev=False)
    parser.add_argument(
        "artifact", type=Path, help="a NameMLP artifact or a float32 served one, re-exported in place unless --out"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the words file of the reference split")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--int8", action="store_true", help="the layers after the first in int8")
    parser.add_argument("--weights", type=Path, help="the trained weights, when ARTIFACT is already re-exported")
    args = parser.parse_args()
    result = reexport_served(args.artifact, args.data, args.out, args.int8, args.weights)
    print(json.dumps({"dev_loss": result.dev_loss, "test_loss": result.test_loss, "served": result.served}, indent=1))
