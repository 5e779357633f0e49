"""Words, vocabulary, the reference split and context windows.

Everything the model sees is built here, once, so training, evaluation and the
tests agree on what a "window" and a "split" are.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import torch

BOUNDARY = "."  # start/end-of-item token, always id 0
SPLIT_SEED = 42  # the lectures' seed, so losses compare with theirs


def read_words(path: str | Path) -> list[str]:
    """One item per line, UTF-8; lines are stripped and empty ones dropped."""
    text = Path(path).read_text(encoding="utf-8")
    words = [line.strip() for line in text.splitlines()]
    words = [w for w in words if w]
    if not words:
        raise ValueError(f"{path}: no non-empty lines")
    bad = sorted({w for w in words if BOUNDARY in w})
    if bad:
        raise ValueError(f"{path}: {len(bad)} item(s) contain the boundary token '.', e.g. {bad[0]!r}")
    return words


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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
