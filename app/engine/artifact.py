"""The artifact format in one home: a TorchScript file with its metadata and training words inside, and the files
written beside it. training/export.py writes with write_artifact; the service and training read with load_artifact.

Anything that is not a complete namegen artifact raises ArtifactError with a one-line message naming the file, so
the service can refuse to start cleanly.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import torch

from app.engine.artifact_meta import (
    ARTIFACT_FORMAT,
    ARTIFACT_VERSION,
    BOUNDARY,
    BOUNDARY_ID,
    SUPPORTED_VERSIONS,
    ArtifactMeta,
    MetaError,
)

__all__ = [  # the format's names, those of the metadata record included: importers need only this module
    "ARTIFACT_FORMAT",
    "ARTIFACT_SUFFIX",
    "ARTIFACT_VERSION",
    "BOUNDARY",
    "BOUNDARY_ID",
    "CARD_JSON_SUFFIX",
    "CARD_SUFFIX",
    "INT8_KERNELS",
    "META_FILE",
    "PLOT_KINDS",
    "SUPPORTED_VERSIONS",
    "TRAINED_WEIGHTS_SUFFIX",
    "WORDS_FILE",
    "Artifact",
    "ArtifactError",
    "ArtifactMeta",
    "MetaError",
    "PlotKind",
    "card_file",
    "card_json_file",
    "load_artifact",
    "model_file_of_weights",
    "plot_file",
    "shown",
    "trained_weights_file",
    "write_artifact",
]

# Inside the archive (TorchScript's extra files).
META_FILE = "meta.json"
WORDS_FILE = "words.txt.gz"  # every word of the training data, all splits, in file order: novelty checks, re-export
# Beside the artifact `<model>.pt`: the files training writes with it and the service serves or skips.
ARTIFACT_SUFFIX = ".pt"
TRAINED_WEIGHTS_SUFFIX = ".trained.pt"  # the float32 NameMLP weights it was exported from, an artifact too; not served
CARD_SUFFIX = ".card.md"
CARD_JSON_SUFFIX = ".card.json"  # meta.json less the training history
PlotKind = Literal["loss", "embeddings"]  # <model>.loss.png: the training curve; .embeddings.png: the characters
PLOT_KINDS: tuple[PlotKind, ...] = get_args(PlotKind)
# How a served artifact's int8 layers multiply here (training/model.py StackedBlock, the same bits either way):
# torch._int_mm is oneDNN's int8 kernel only where the CPU has AVX-512 VNNI (torch's own test, below); elsewhere it
# is a scalar loop, far slower than the float32 product of the same whole numbers.
INT8_KERNELS = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled and torch.cpu._is_vnni_supported()


def plot_file(model: Path, kind: PlotKind) -> Path:
    return model.with_suffix(f".{kind}.png")


def card_file(model: Path) -> Path:
    return model.with_suffix(CARD_SUFFIX)


def card_json_file(model: Path) -> Path:
    return model.with_suffix(CARD_JSON_SUFFIX)


def trained_weights_file(model: Path) -> Path:
    return model.with_suffix(TRAINED_WEIGHTS_SUFFIX)


def model_file_of_weights(weights: Path) -> Path:
    """The model file a run's kept weights were trained for (names-mlp.trained.pt -> names-mlp.pt)."""
    return weights.with_name(weights.name.removesuffix(TRAINED_WEIGHTS_SUFFIX) + ARTIFACT_SUFFIX)


def shown(name: object) -> str:
    """A file or model name as written, or its repr when it holds a character that does not print: a newline
    in a file name would split a one-line error in two."""
    text = str(name)
    return text if text.isprintable() else repr(text)


class ArtifactError(Exception):
    """The file is missing, unreadable, or not a namegen model: one line, the file's name first."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{shown(path)}: {reason}")


@dataclass(frozen=True)
class Artifact:
    path: Path
    module: torch.jit.ScriptModule
    meta: ArtifactMeta
    training_words: tuple[str, ...] = ()  # the training data, all splits, in the order of its file
    words: frozenset[str] = field(init=False)  # the same words as a set, for novelty checks

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", frozenset(self.training_words))

    @property
    def vocab(self) -> tuple[str, ...]:
        return self.meta.vocab

    @property
    def block_size(self) -> int:
        return self.meta.block_size

    @property
    def vocab_size(self) -> int:
        return len(self.meta.vocab)


def write_artifact(path: Path, module: torch.jit.ScriptModule, meta: ArtifactMeta, words: Sequence[str]) -> None:
    """The artifact file: `module` with meta.json and the training words inside (gzip without a timestamp, so the
    same inputs give the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {
        META_FILE: json.dumps(meta.to_json(), indent=1),
        WORDS_FILE: gzip.compress("\n".join(words).encode(), mtime=0),
    }
    torch.jit.save(module, str(path), _extra_files=extra)


def load_artifact(path: str | Path) -> Artifact:
    """The artifact at `path`, checked: its file, its metadata, its methods and one forward of the promised shape."""
    path = Path(path)
    _check_file(path)
    extra = {META_FILE: "", WORDS_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:  # torch raises several types for a bad archive
        raise ArtifactError(path, _why_not_torchscript(exc)) from None
    try:
        document = json.loads(extra[META_FILE] or "null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ArtifactError(path, "meta.json inside the file is not valid JSON") from None
    try:
        meta = ArtifactMeta.from_json(document)
    except MetaError as exc:
        raise ArtifactError(path, str(exc)) from None
    for method in ("position_tables", "logits_from_first_layer"):
        if not hasattr(module, method):
            raise ArtifactError(path, f"the TorchScript module lacks {method}()")
    _check_forward(path, module, len(meta.vocab), meta.block_size)
    words: tuple[str, ...] = ()
    raw = extra[WORDS_FILE]
    if raw:
        try:
            words = tuple(gzip.decompress(raw if isinstance(raw, bytes) else raw.encode()).decode().split("\n"))
        except (OSError, UnicodeDecodeError, EOFError):
            raise ArtifactError(path, "words.txt.gz inside the file is corrupt") from None
    module.eval()
    if hasattr(module, "use_int8_kernels"):  # the served layout
        module.use_int8_kernels(INT8_KERNELS)
    return Artifact(path, module, meta, words)


MODEL_HINT = "a namegen model is a .pt file written by `namegen train`"
ZIP_MAGIC = b"PK\x03\x04"  # TorchScript files are zip archives


def _check_file(path: Path) -> None:
    """Say what `path` is when it cannot be a model, before torch's less helpful messages."""
    if not path.exists():
        raise ArtifactError(path, "model file not found")
    if path.is_dir():
        raise ArtifactError(path, "is a directory, not a model file")
    if not path.is_file():
        raise ArtifactError(path, "not a regular file, not a model file")
    try:
        with path.open("rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError as exc:
        raise ArtifactError(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not head:
        raise ArtifactError(path, f"empty file, not a model ({MODEL_HINT})")
    if head != ZIP_MAGIC:
        raise ArtifactError(path, f"not a TorchScript archive ({MODEL_HINT})")
    if not zipfile.is_zipfile(path):  # the archive's directory is at its end: a cut-off copy lacks it
        raise ArtifactError(path, "incomplete zip archive (truncated or corrupted copy?), not a loadable model")


def _why_not_torchscript(exc: Exception) -> str:
    """A whole sentence for a zip archive torch cannot load as TorchScript."""
    text = str(exc).strip()
    if "constants.pkl" in text:  # what torch.save (a checkpoint or state dict) writes lacks TorchScript's constants
        return f"a zip archive but not a TorchScript module, perhaps a torch.save checkpoint ({MODEL_HINT})"
    # torch's first sentence names the problem; the rest is generic advice about checkpoints.
    first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__
    return f"not a loadable TorchScript archive: {first} ({MODEL_HINT})"


def _check_forward(path: Path, module: torch.jit.ScriptModule, vocab_size: int, block_size: int) -> None:
    """One forward on a boundary-only context: the shapes must be what meta.json promises."""
    try:
        with torch.no_grad():
            logits = module(torch.zeros((2, block_size), dtype=torch.long))
    except Exception:
        raise ArtifactError(path, f"forward fails on a (2, {block_size}) context") from None
    if tuple(logits.shape) != (2, vocab_size) or not bool(torch.isfinite(logits).all()):
        raise ArtifactError(path, f"forward gives {tuple(logits.shape)} logits, expected (2, {vocab_size}) finite")
