"""The model card written beside every exported artifact: <out>.card.md for people, <out>.card.json for tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.engine.artifact import ArtifactMeta, card_file, card_json_file, plot_file
from training.download import NAMES_SHA256, SURNAMES_TEXT_SHA256


def architecture(hp: dict[str, Any]) -> str:
    """'2 MLPs averaged, each: context 8, embedding 32, tanh 1024 -> 256, ...' from the hyperparameters."""
    widths = [hp["n_hidden"]] + [hp.get("deep_width") or hp["n_hidden"]] * (hp["n_layers"] - 1)
    members = hp.get("n_members", 1)
    each = (
        f"context {hp['block_size']}, embedding {hp['n_embd']}, tanh layers {' -> '.join(map(str, widths))}, "
        f"layer norm {'on' if hp['layer_norm'] else 'off'}, dropout {hp['dropout']}"
    )
    return f"{members} MLPs with averaged probabilities, each: {each}" if members > 1 else each


def write_card(meta: ArtifactMeta, out: Path) -> None:
    """<out>.card.md, for people, and <out>.card.json: meta.json less the training history."""
    hp = meta.hyperparameters
    ds = meta.dataset
    precision = (
        "; forward matmuls in bfloat16 while training (autocast), weights float32" if hp.get("bf16_autocast") else ""
    )
    distinct = f" ({ds['distinct_words']:,} distinct)" if "distinct_words" in ds else ""
    windows = " / ".join(f"{ds['split'][part]:,}" for part in ("train", "dev", "test"))
    split = f"{windows} windows (characters + end tokens)"
    if "split_words" in ds:  # cards of models exported before the word counts were recorded have windows only
        split = " / ".join(f"{ds['split_words'][part]:,}" for part in ("train", "dev", "test")) + f" words; {split}"
    # Provenance is known only for the reference file, recognised by its checksum; any other file is described
    # by what was measured, never by the reference data's history.
    if ds["sha256"] == NAMES_SHA256:
        source = (
            "the reference names data: the 32,033 most common first names given in the United States in 2018 "
            "(U.S. Social Security Administration statistics), lowercase a-z, as published in karpathy/makemore "
            "(`names.txt`, MIT licence)"
        )
        biases = "that data's biases (US first names of 2018)"
    elif ds["sha256"] == SURNAMES_TEXT_SHA256:
        source = (
            "the 1990 US Census surname list (88,799 surnames, most frequent first): the first column of "
            "`dist.all.last` from the `names` 0.3.0 package on PyPI (MIT licence), lower-cased, as "
            "`python -m training.download --dataset us-surnames` writes it"
        )
        biases = "that list's biases (surnames of US residents counted in the 1990 census)"
    else:
        source = (
            f"`{ds['name']}`, not the reference names data (its sha256 differs); where it comes from is not recorded"
        )
        biases = f"whatever biases `{ds['name']}` carries"
    lines = [
        f"# Model card: {out.name}",
        "",
        f"Character-level MLP (Bengio et al. 2003) trained with the `{meta.recipe}` recipe on `{ds['name']}` (below).",
        "",
        "## Training data",
        "",
        f"- File `{ds['name']}`: {ds['words']:,} words{distinct}, sha256 `{ds['sha256']}`",
        f"- Reference split (shuffled with seed 42, 80/10/10), train / dev / test: {split}",
        f"- Source: {source}",
        "",
        "## Results",
        "",
        "| loss (nats/char, end token included) | value |",
        "| --- | --- |",
        f"| train | {meta.train_loss:.4f} |",
        f"| dev | {meta.dev_loss:.4f} |",
        f"| test | {meta.test_loss:.4f} |",
        f"| bigram baseline, dev | {meta.bigram_dev_loss:.4f} |",
        f"| bigram baseline, test | {meta.bigram_test_loss:.4f} |",
        "",
        f"- Parameters: {meta.parameters:,}; {architecture(hp)}",
        f"- Optimizer {hp['optimizer']}, lr {hp['lr']} ({hp['schedule']}), weight decay {hp['weight_decay']}, "
        f"batch {hp['batch_size']}, {hp['steps']} steps (best on dev at step {meta.best_step}), seed {hp['seed']}"
        f"{precision}",
        *([f"- Command: `{meta.command}`"] if meta.command is not None else []),
        f"- Training time: {meta.training_seconds:.0f} s; torch {meta.torch_version}; created {meta.created}",
        *served_lines(meta),
        "- Intended use: inventing name-like strings and scoring how name-like a string is. It knows only "
        f"the characters of its training data and reflects {biases}.",
        "",
        f"![loss curve]({plot_file(out, 'loss').name})",
        f"![character embeddings]({plot_file(out, 'embeddings').name})",
        "",
    ]
    card_file(out).write_text("\n".join(lines))
    card = {k: v for k, v in meta.to_json().items() if k != "history"}
    card_json_file(out).write_text(json.dumps(card, indent=1) + "\n")


def served_lines(meta: ArtifactMeta) -> list[str]:
    """The card's line on what is served, for an artifact re-exported by reexport_served (others have none)."""
    served = meta.served
    if served is None:
        return []
    source = served.get("from", "the trained weights")
    return [
        f"- Served in {served['precision']} ({served['layout']}); re-exported {served['exported']} from {source}; "
        f"the dev and test losses above are measured through {served['losses_through']}"
    ]
