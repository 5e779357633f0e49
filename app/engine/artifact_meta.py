"""An artifact's metadata (its meta.json) as a typed record, parsed and checked in one place.

training/export.py builds the record and app/engine/artifact.py writes and reads it; nothing else reads meta.json.
The keys are those training writes; a file's keys this version does not know are kept as they are, and so is the
order of the keys, so that a file read and written again (a re-export) and GET /model say exactly what the file says.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

# The boundary token: every vocabulary starts with it, so its id is 0. It pads a context's start and ends a name.
BOUNDARY = "."
BOUNDARY_ID = 0
ARTIFACT_FORMAT = "namegen-mlp"
ARTIFACT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({ARTIFACT_VERSION})
REQUIRED = ("vocab", "block_size", "hyperparameters", "train_loss", "dev_loss", "test_loss", "dataset")


class MetaError(ValueError):
    """meta.json is not a namegen model's: the reason, in words the reader puts after the file's name."""


@dataclass(frozen=True, kw_only=True)
class ArtifactMeta:
    """What meta.json records, in the order training writes it. Optional fields are None when the file lacks them
    (older files, hand-made ones)."""

    format_version: int = ARTIFACT_VERSION
    vocab: tuple[str, ...]  # distinct single characters, the boundary first
    block_size: int  # characters of context
    hyperparameters: dict[str, Any]  # the network's shape and the training run's settings (keys vary by recipe)
    recipe: str | None = None
    parameters: int | None = None
    train_loss: float  # nats per character, end token included
    dev_loss: float
    test_loss: float
    bigram_dev_loss: float | None = None
    bigram_test_loss: float | None = None
    best_step: int | None = None
    dataset: dict[str, Any]  # the training file: name, sha256, word counts, split sizes
    training_seconds: float | None = None
    command: str | None = None  # the command line that trained it
    torch_version: str | None = None
    created: str | None = None  # ISO 8601, UTC
    history: tuple[dict[str, float], ...] | None = None  # the training curve: step, train_loss, dev_loss, seconds
    # Ascending quantiles (0 .. 100 %) of the per-name mean loss over the reference dev names (/score's percentile).
    mean_loss_quantiles: tuple[float, ...] | None = None
    served: dict[str, str] | None = None  # how a re-exported file is served (layout, precision, when, from what)
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, as read
    # The keys in the order the file had them; empty for a record built in code (then: "format", then field order).
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def dataset_sha256(self) -> str | None:
        """The training file's checksum, when recorded."""
        value = self.dataset.get("sha256")
        return value if isinstance(value, str) else None

    def to_json(self) -> dict[str, Any]:
        """meta.json's object: the file's key order kept, keys it lacked after them; absent fields left out."""
        values: dict[str, Any] = {"format": ARTIFACT_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in ("extra", "key_order") and value is not None:
                values[f.name] = _json_value(value)
        values.update(self.extra)
        ordered = {key: values.pop(key) for key in self.key_order if key in values}
        return {**ordered, **values}

    @classmethod
    def from_json(cls, document: object) -> ArtifactMeta:
        """The record of a parsed meta.json; MetaError says which field is missing or wrong."""
        if not isinstance(document, dict) or document.get("format") != ARTIFACT_FORMAT:
            raise MetaError(f"not a namegen model (no meta.json with format '{ARTIFACT_FORMAT}')")
        version = document.get("format_version")
        if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
            raise MetaError(f"unsupported artifact format_version {version!r}")
        missing = [key for key in REQUIRED if key not in document]
        if missing:
            raise MetaError(f"meta.json lacks {', '.join(missing)}")
        # An optional key written as null is absent to the record, and kept with the unknown keys for the file.
        parsed = {key for key, value in document.items() if key in PARSERS and (value is not None or key in REQUIRED)}
        values = {key: PARSERS[key](key, document[key]) for key in parsed}
        extra = {key: value for key, value in document.items() if key not in parsed and key != "format"}
        return cls(**values, extra=extra, key_order=tuple(document))


def _json_value(value: object) -> object:
    """Tuples as JSON arrays (lists), so that the object compares and serializes as the file's."""
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def _vocab(key: str, value: object) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or value[BOUNDARY_ID] != BOUNDARY
        or not all(isinstance(c, str) and len(c) == 1 for c in value)
        or len(set(value)) != len(value)
    ):
        raise MetaError(f"meta.json {key} must be distinct single characters starting with '{BOUNDARY}'")
    return tuple(value)


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MetaError(f"meta.json {key} must be a positive integer")
    return value


def _count(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MetaError(f"meta.json {key} must be a whole number, 0 or more")
    return value


def _number(key: str, value: object) -> float:
    """A finite JSON number, kept as written (an integer stays one, so the file reads back byte for byte)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MetaError(f"meta.json {key} must be a finite number")
    return value


def _text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise MetaError(f"meta.json {key} must be a string")
    return value


def _object(key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MetaError(f"meta.json {key} must be an object")
    return value


def _texts(key: str, value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise MetaError(f"meta.json {key} must be an object of strings")
    return value


def _history(key: str, value: object) -> tuple[dict[str, float], ...]:
    if not isinstance(value, list) or not all(
        isinstance(point, dict) and all(isinstance(v, int | float) for v in point.values()) for point in value
    ):
        raise MetaError(f"meta.json {key} must be a list of objects of numbers")
    return tuple(value)


def _quantiles(key: str, value: object) -> tuple[float, ...]:
    # The percentile interpolates between neighbours: two at least, finite, in ascending order.
    if (
        not isinstance(value, list)
        or len(value) < 2
        or not all(not isinstance(q, bool) and isinstance(q, int | float) and math.isfinite(q) for q in value)
        or not all(a <= b for a, b in itertools.pairwise(value))
    ):
        raise MetaError(f"meta.json {key} must be at least two finite numbers in ascending order")
    return tuple(value)


PARSERS: Mapping[str, Callable[[str, object], Any]] = {
    "format_version": lambda key, value: value,  # checked first, against SUPPORTED_VERSIONS
    "vocab": _vocab,
    "block_size": _positive_int,
    "hyperparameters": _object,
    "train_loss": _number,
    "dev_loss": _number,
    "test_loss": _number,
    "dataset": _object,
    "recipe": _text,
    "parameters": _count,
    "bigram_dev_loss": _number,
    "bigram_test_loss": _number,
    "best_step": _count,
    "training_seconds": _number,
    "command": _text,
    "torch_version": _text,
    "created": _text,
    "history": _history,
    "mean_loss_quantiles": _quantiles,
    "served": _texts,
}
