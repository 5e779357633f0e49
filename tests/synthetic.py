"""Tiny synthetic word lists for the tests that train: syllable names, quick to learn, never the real data."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from training.model import ModelConfig
from training.recipes import TrainConfig

SYLLABLES = ("ka", "lo", "mi", "ra", "ne", "su", "ti", "an", "el")


def syllable_words(count: int, seed: int, syllables: Sequence[str] = SYLLABLES) -> list[str]:
    """`count` words of one to three syllables, the same for the same seed."""
    rng = random.Random(seed)
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(count)]


def tiny_train_config(
    model: ModelConfig, steps: int, warmup_steps: int = 10, eval_interval: int = 40, **overrides: Any
) -> TrainConfig:
    """A few-second AdamW run on one thread: what the tests that train need, and nothing the real recipes tune."""
    return TrainConfig(
        model=model,
        steps=steps,
        batch_size=32,
        optimizer="adamw",
        lr=1e-2,
        schedule="cosine",
        warmup_steps=warmup_steps,
        eval_interval=eval_interval,
        threads=1,
        **overrides,
    )
