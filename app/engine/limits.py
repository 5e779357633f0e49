"""The engine's limits, given to it as arguments (the service builds them from its settings:
app.settings.Settings.engine_limits)."""

from __future__ import annotations

from dataclasses import dataclass

# Slots of the sampler's context cache: (slots x V) float32 each. A prime, so context numbers spread evenly; large,
# because at context 8 most contexts are a whole name-so-far and new names keep bringing new ones (the miss rates
# and the throughput by cache size: docs/experiments.md).
DEFAULT_CACHE_CONTEXTS = 524_287


@dataclass(frozen=True)
class EngineLimits:
    max_n: int = 1000  # names per /sample request
    max_name_length: int = 32  # characters per sampled name, prefix included
    max_text_length: int = 64  # characters per scored text or /next prefix
    max_batch: int = 1000  # texts per batch
    max_attempts: int = 20  # sampling rounds per request
    max_queued_work: int = 262_144  # contexts of work queued before requests are refused as busy
    cache_contexts: int = DEFAULT_CACHE_CONTEXTS  # slots of each model's context cache
    sampler_threads: int = 1  # threads that share a large network call
    warm_names: int = 20_000  # names drawn at warm-up to fill the context cache
