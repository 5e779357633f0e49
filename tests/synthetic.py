"""Tiny synthetic word lists for the tests that train: syllable names, quick to learn, never the real data."""

from __future__ import annotations

import random
from collections.abc import Sequence

SYLLABLES = ("ka", "lo", "mi", "ra", "ne", "su", "ti", "an", "el")


def syllable_words(count: int, seed: int, syllables: Sequence[str] = SYLLABLES) -> list[str]:
    """`count` words of one to three syllables, the same for the same seed."""
    rng = random.Random(seed)
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(count)]
