"""Score an exported artifact on a words file, from its TorchScript forward alone.

    namegen evaluate [MODEL [WORDS]] [--split all] [--json]     (or python -m training.evaluate ...)

By default the file is cut with the reference 80/10/10 split and one row is
printed per part; `--split all` scores the whole file as one row. Every row
carries the count-based bigram baseline, fit on the reference train split of
the same file, as the floor any model must beat.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from app.engine.artifact import Artifact, ArtifactError, load_artifact
from app.hashing import file_sha256
from training.bigram import bigram_log_probs, bigram_loss
from training.command import DEFAULT_MODEL, HelpFormatter, fail
from training.data import DEFAULT_DATA, ContextWindows, Vocabulary, read_words, reference_split

SPLITS = ("train", "dev", "test")
DEV_LOSS_BAR = 1.95  # the shipped artifact's target on the reference dev split (nats/char)


class EvaluationError(Exception):
    """Bad input to the evaluation: a message for the user, not a traceback."""


@dataclass(frozen=True)
class EvalRow:
    split: str  # "train", "dev", "test" or "all"
    words: int
    windows: int  # characters + end tokens: the number of predictions scored
    loss: float  # mean nats per character, end token included
    perplexity: float
    bigram_loss: float
    meta_loss: float | None  # what the artifact recorded for this split, when it was trained on this file


def scripted_loss(module: torch.nn.Module, windows: ContextWindows, batch_size: int = 32768) -> float:
    """Mean cross-entropy of `module`'s forward over every window (nats per character)."""
    if len(windows) == 0:
        raise EvaluationError("nothing to evaluate: the selected split has no words")
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            logits = module(windows.x[start : start + batch_size])
            total += float(F.cross_entropy(logits, windows.y[start : start + batch_size], reduction="sum"))
    return total / len(windows)


def check_vocabulary(words: list[str], vocab: tuple[str, ...], source: str) -> None:
    """Every character of `words` must be one the model knows."""
    unknown = sorted(set("".join(words)) - set(vocab))
    if unknown:
        shown = " ".join(repr(c) for c in unknown[:20])
        more = f" (and {len(unknown) - 20} more)" if len(unknown) > 20 else ""
        raise EvaluationError(f"{source}: {len(unknown)} character(s) not in the model's vocabulary: {shown}{more}")


def bigram_baseline(train_words: list[str], vocab: Vocabulary) -> torch.Tensor:
    """Log-probabilities of the add-one bigram model fit on `train_words` (ids of `vocab`)."""
    return bigram_log_probs(ContextWindows.build(train_words, vocab, 1), vocab.size)


def bigram_row_loss(log_probs: torch.Tensor, words: list[str], vocab: Vocabulary) -> float:
    return bigram_loss(log_probs, ContextWindows.build(words, vocab, 1))


def evaluate_words(
    artifact: Artifact, words: list[str], split: str = "reference", meta_losses: bool = False
) -> list[EvalRow]:
    """Rows for `split` ("reference": train/dev/test; "all"; or one of train/dev/test)."""
    vocab = Vocabulary(artifact.vocab)
    reference = reference_split(words)
    baseline = bigram_baseline(reference.train, vocab)
    parts = {"train": reference.train, "dev": reference.dev, "test": reference.test, "all": words}
    names = list(SPLITS) if split == "reference" else [split]
    meta = artifact.meta
    recorded_losses = {"train": meta.train_loss, "dev": meta.dev_loss, "test": meta.test_loss}
    rows = []
    for name in names:
        part = parts[name]
        windows = ContextWindows.build(part, vocab, artifact.block_size)
        loss = scripted_loss(artifact.module, windows)
        recorded = recorded_losses.get(name) if meta_losses else None
        rows.append(
            EvalRow(
                name,
                len(part),
                len(windows),
                loss,
                math.exp(loss),
                bigram_row_loss(baseline, part, vocab),
                None if recorded is None else float(recorded),
            )
        )
    return rows


def evaluate_file(
    artifact_path: str | Path, words_path: str | Path, split: str = "reference"
) -> tuple[Artifact, list[EvalRow], bool]:
    """Load both inputs, check they fit together and score them. Returns (artifact, rows, same_data)
    where same_data says the file is the one the artifact was trained on (by sha256)."""
    words_path = Path(words_path)
    try:  # the words first: reading them is quick, loading a model is not
        words = read_words(words_path)
    except ValueError as exc:  # DataError: missing, a directory, empty, not UTF-8, a '.' inside an item
        raise EvaluationError(str(exc)) from None
    try:
        artifact = load_artifact(artifact_path)
    except ArtifactError as exc:
        raise EvaluationError(str(exc)) from None
    check_vocabulary(words, artifact.vocab, str(words_path))
    same_data = artifact.meta.dataset_sha256 == file_sha256(words_path)
    return artifact, evaluate_words(artifact, words, split, meta_losses=same_data), same_data


def dev_loss_on_reference_split(artifact_path: str | Path, words_path: str | Path) -> float:
    """The artifact's dev loss recomputed from its forward: the number held against DEV_LOSS_BAR."""
    _, rows, _ = evaluate_file(artifact_path, words_path, "dev")
    return rows[0].loss


def format_table(rows: list[EvalRow]) -> str:
    header = f"{'split':<6} {'words':>7} {'chars':>8} {'loss':>7} {'perplexity':>10} {'bigram':>7} {'recorded':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        recorded = f"{r.meta_loss:.4f}" if r.meta_loss is not None else "-"
        lines.append(
            f"{r.split:<6} {r.words:>7} {r.windows:>8} {r.loss:>7.4f} {r.perplexity:>10.3f} "
            f"{r.bigram_loss:>7.4f} {recorded:>8}"
        )
    return "\n".join(lines)


def report(artifact: Artifact, words_path: Path, rows: list[EvalRow], same_data: bool) -> dict[str, Any]:
    return {
        "artifact": str(artifact.path),
        "data": str(words_path),
        "trained_on_this_file": same_data,
        "block_size": artifact.block_size,
        "vocab_size": artifact.vocab_size,
        "unit": "nats per character, end token included",
        "rows": [asdict(r) for r in rows],
    }


def parse_args(argv: list[str] | None, prog: str = "python -m training.evaluate") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=HelpFormatter, allow_abbrev=False)
    p.add_argument(
        "artifact", metavar="MODEL", type=Path, nargs="?", default=DEFAULT_MODEL, help="a namegen model file (.pt)"
    )
    p.add_argument("words", metavar="WORDS", type=Path, nargs="?", default=DEFAULT_DATA, help="UTF-8, one per line")
    p.add_argument(
        "--split",
        choices=("reference", "all", *SPLITS),
        default="reference",
        help="reference: train/dev/test rows of the reference split; all: the whole file; or one part",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, prog: str = "python -m training.evaluate") -> int:
    args = parse_args(argv, prog)
    try:
        artifact, rows, same_data = evaluate_file(args.artifact, args.words, args.split)
    except EvaluationError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(report(artifact, args.words, rows, same_data), indent=1))
        return 0
    source = "the artifact's training file" if same_data else "not the artifact's training file (sha256 differs)"
    print(f"{args.artifact}: context {artifact.block_size}, vocab {artifact.vocab_size}; {args.words}: {source}")
    print(format_table(rows))
    print(
        "loss: nats/char, end token included; bigram: add-one bigram fit on the reference train split; "
        "recorded: meta.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
