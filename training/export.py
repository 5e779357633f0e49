"""TorchScript export with the metadata inside the file, checked against the eager model."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import torch

from app.engine.artifact import ARTIFACT_FORMAT, ARTIFACT_VERSION, META_FILE, WORDS_FILE
from training.bigram import bigram_log_probs, bigram_loss
from training.data import Vocabulary, file_sha256
from training.model import NameMLP
from training.recipes import TrainConfig


def script_and_check(model: NameMLP, probe: torch.Tensor) -> torch.jit.ScriptModule:
    """Script the model and prove the scripted forward (and its fast path) match eager."""
    model.eval()
    scripted = torch.jit.script(model)
    with torch.no_grad():
        eager = model(probe)
        script = scripted(probe)
        tables = scripted.position_tables()
        pre = sum(tables[k][probe[:, k]] for k in range(probe.shape[1]))
        fast = scripted.logits_from_first_layer(pre)
    if not torch.allclose(eager, script, atol=1e-5, rtol=0):
        raise RuntimeError("export check failed: TorchScript logits differ from the eager model's")
    if not torch.allclose(eager, fast, atol=1e-4, rtol=0):
        raise RuntimeError("export check failed: position tables do not reproduce the forward")
    return scripted


def save_artifact(scripted: torch.jit.ScriptModule, meta: dict[str, Any], words: list[str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    extra = {META_FILE: json.dumps(meta, indent=1), WORDS_FILE: gzip.compress("\n".join(words).encode(), mtime=0)}
    torch.jit.save(scripted, str(out), _extra_files=extra)


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
) -> dict[str, Any]:
    """Write `out` (TorchScript + meta.json + word list), its model card and its plots."""
    scripted = script_and_check(result.model, windows.dev.x[:4096])
    bigram = bigram_log_probs(windows.train, vocab.size)
    meta: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "format_version": ARTIFACT_VERSION,
        "vocab": list(vocab.chars),
        "block_size": config.model.block_size,
        "hyperparameters": {**config.model.to_dict(), **{k: v for k, v in vars(config).items() if k != "model"}},
        "recipe": recipe,
        "parameters": result.model.num_parameters(),
        "train_loss": round(result.train_loss, 5),
        "dev_loss": round(result.dev_loss, 5),
        "test_loss": round(test_loss, 5),
        "bigram_dev_loss": round(bigram_loss(bigram, windows.dev), 5),
        "bigram_test_loss": round(bigram_loss(bigram, windows.test), 5),
        "best_step": result.best_step,
        "dataset": {
            "name": data_path.name,
            "sha256": file_sha256(data_path),
            "words": len(words),
            "split": {"train": len(windows.train), "dev": len(windows.dev), "test": len(windows.test)},
            "split_unit": "windows (characters + end tokens)",
        },
        "training_seconds": round(result.seconds, 1),
        "torch_version": torch.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "history": result.history,
    }
    save_artifact(scripted, meta, words, out)
    write_card(meta, out)
    from training.plots import plot_embeddings, plot_losses

    plot_losses(result.history, out.with_suffix(".loss.png"))
    plot_embeddings(result.model, vocab, out.with_suffix(".embeddings.png"))
    return meta


def architecture(hp: dict[str, Any]) -> str:
    """'2 MLPs averaged, each: context 8, embedding 32, tanh 1024 -> 256, ...' from the hyperparameters."""
    widths = [hp["n_hidden"]] + [hp.get("deep_width") or hp["n_hidden"]] * (hp["n_layers"] - 1)
    members = hp.get("n_members", 1)
    each = (
        f"context {hp['block_size']}, embedding {hp['n_embd']}, tanh layers {' -> '.join(map(str, widths))}, "
        f"layer norm {'on' if hp['layer_norm'] else 'off'}, dropout {hp['dropout']}"
    )
    return f"{members} MLPs with averaged probabilities, each: {each}" if members > 1 else each


def write_card(meta: dict[str, Any], out: Path) -> None:
    hp = meta["hyperparameters"]
    ds = meta["dataset"]
    precision = (
        "; forward matmuls in bfloat16 while training (autocast), weights float32" if hp.get("bf16_autocast") else ""
    )
    lines = [
        f"# Model card: {out.name}",
        "",
        f"Character-level MLP (Bengio et al. 2003) trained with the `{meta['recipe']}` recipe on "
        f"`{ds['name']}` ({ds['words']} words, sha256 `{ds['sha256']}`), reference 80/10/10 split.",
        "",
        "| loss (nats/char, end token included) | value |",
        "| --- | --- |",
        f"| train | {meta['train_loss']:.4f} |",
        f"| dev | {meta['dev_loss']:.4f} |",
        f"| test | {meta['test_loss']:.4f} |",
        f"| bigram baseline, dev | {meta['bigram_dev_loss']:.4f} |",
        f"| bigram baseline, test | {meta['bigram_test_loss']:.4f} |",
        "",
        f"- Parameters: {meta['parameters']:,}; {architecture(hp)}",
        f"- Optimizer {hp['optimizer']}, lr {hp['lr']} ({hp['schedule']}), weight decay {hp['weight_decay']}, "
        f"batch {hp['batch_size']}, {hp['steps']} steps (best on dev at step {meta['best_step']}), seed {hp['seed']}"
        f"{precision}",
        f"- Training time: {meta['training_seconds']:.0f} s; torch {meta['torch_version']}; created {meta['created']}",
        "- Intended use: inventing name-like strings and scoring how name-like a string is. It knows only "
        "the characters of its training data and reflects that data's biases (US baby names, 2018).",
        "",
        f"![loss curve]({out.with_suffix('.loss.png').name})",
        f"![character embeddings]({out.with_suffix('.embeddings.png').name})",
        "",
    ]
    out.with_suffix(".card.md").write_text("\n".join(lines))
    card = {k: v for k, v in meta.items() if k != "history"}
    out.with_suffix(".card.json").write_text(json.dumps(card, indent=1) + "\n")
