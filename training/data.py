"""Words, vocabulary, the reference split and context windows.

Everything the model sees is built here, once, so training, evaluation and the
tests agree on what a "window" and a "split" are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from app.engine.artifact import BOUNDARY

SPLIT_SEED = 42  # the lectures' seed, so losses compare with theirs
# Relative to the repository root, where the commands are run: the data lives beside the repo, never in it.
DEFAULT_DATA = Path("../shared/data/names.txt")


class DataError(ValueError):
    """A words file that cannot be used, said in one line that names it."""


def read_words(path: str | Path) -> list[str]:
    """One item per line, UTF-8; lines are stripped and empty ones dropped."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file (one item per line)")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        hint = " (`make download` fetches the reference names.txt)" if path == DEFAULT_DATA else ""
        raise DataError(f"{path}: data file not found{hint}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8, one item per line"
        ) from None
    words = [line.strip() for line in text.splitlines()]
    words = [w for w in words if w]
    if not words:
        raise DataError(f"{path}: no items: the file is empty or has only blank lines (expected one item per line)")
    bad = sorted({w for w in words if BOUNDARY in w})
    if bad:
        raise DataError(f"{path}: {len(bad)} item(s) contain the boundary token '.', e.g. {bad[0]!r}")
    return words


@dataclass(frozen=True)
class Vocabulary:
    """Token id <-> character; id 0 is the boundary token."""

    chars: tuple[str, ...]

    @classmethod
    def from_words(cls, words: list[str]) -> Vocabulary:
        return cls((BOUNDARY, *sorted(set("".join(words)))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        index = {c: i for i, c in enumerate(self.chars)}
        return [index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class Split:
    train: list[str]
    dev: list[str]
    test: list[str]


def reference_split(words: list[str], seed: int = SPLIT_SEED) -> Split:
    """80/10/10 after `random.seed(seed); random.shuffle(words)`, as in the lectures."""
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)  # same order as random.seed(seed); random.shuffle(...)
    n1, n2 = int(0.8 * len(shuffled)), int(0.9 * len(shuffled))
    return Split(shuffled[:n1], shuffled[n1:n2], shuffled[n2:])


def split_word_counts(words: list[str]) -> dict[str, int]:
    """Words in each part of the reference split, for the model card."""
    split = reference_split(words)
    return {"train": len(split.train), "dev": len(split.dev), "test": len(split.test)}


@dataclass(frozen=True)
class ContextWindows:
    """Every (previous `block_size` ids, next id) pair of a word list.

    Each word contributes len(word) + 1 examples: one per character and one for
    the end-of-word boundary. Contexts before the start are padded with id 0.
    """

    x: torch.Tensor  # (N, block_size) int64
    y: torch.Tensor  # (N,) int64

    @classmethod
    def build(cls, words: list[str], vocab: Vocabulary, block_size: int) -> ContextWindows:
        xs: list[list[int]] = []
        ys: list[int] = []
        for word in words:
            context = [0] * block_size
            for token in [*vocab.encode(word), 0]:
                xs.append(context)
                ys.append(token)
                context = [*context[1:], token]
        x = torch.tensor(xs, dtype=torch.long).reshape(-1, block_size)
        return cls(x, torch.tensor(ys, dtype=torch.long))

    def __len__(self) -> int:
        return int(self.y.shape[0])
