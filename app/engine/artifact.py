"""Load and validate a namegen TorchScript artifact.

Anything that is not a complete namegen artifact raises ArtifactError with a
one-line message naming the file, so the service can refuse to start cleanly.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

# The boundary token: every vocabulary starts with it, so its id is 0. It pads a context's start and ends a name.
BOUNDARY = "."
BOUNDARY_ID = 0
# The artifact format, defined once: training/export.py writes what this module reads.
ARTIFACT_FORMAT = "namegen-mlp"
ARTIFACT_VERSION = 1
SUPPORTED_VERSIONS = {ARTIFACT_VERSION}
META_FILE = "meta.json"
WORDS_FILE = "words.txt.gz"  # every word of the training data, all splits, for novelty checks
TRAINED_WEIGHTS_SUFFIX = ".trained.pt"  # beside a model: the float32 weights it was exported from; not a model
REQUIRED_META = ("vocab", "block_size", "hyperparameters", "train_loss", "dev_loss", "test_loss", "dataset")
# How a served artifact's int8 layers multiply here (training/model.py StackedBlock, the same bits either way):
# torch._int_mm is oneDNN's int8 kernel only where the CPU has AVX-512 VNNI (torch's own test, below); elsewhere it
# is a scalar loop, far slower than the float32 product of the same whole numbers.
INT8_KERNELS = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled and torch.cpu._is_vnni_supported()


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
    meta: dict[str, Any]
    vocab: tuple[str, ...]
    block_size: int
    words: frozenset[str] = field(default_factory=frozenset)  # training data, all splits

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def load_artifact(path: str | Path) -> Artifact:
    path = Path(path)
    _check_file(path)
    extra = {META_FILE: "", WORDS_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:  # torch raises several types for a bad archive
        raise ArtifactError(path, _why_not_torchscript(exc)) from None
    try:
        meta = json.loads(extra[META_FILE] or "null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ArtifactError(path, "meta.json inside the file is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(path, f"not a namegen model (no meta.json with format '{ARTIFACT_FORMAT}')")
    if meta.get("format_version") not in SUPPORTED_VERSIONS:
        raise ArtifactError(path, f"unsupported artifact format_version {meta.get('format_version')!r}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ArtifactError(path, f"meta.json lacks {', '.join(missing)}")
    vocab, block_size = meta["vocab"], meta["block_size"]
    if (
        not isinstance(vocab, list)
        or not vocab
        or vocab[BOUNDARY_ID] != BOUNDARY
        or not all(isinstance(c, str) and len(c) == 1 for c in vocab)
        or len(set(vocab)) != len(vocab)
    ):
        raise ArtifactError(path, "meta.json vocab must be distinct single characters starting with '.'")
    if not isinstance(block_size, int) or block_size < 1:
        raise ArtifactError(path, "meta.json block_size must be a positive integer")
    for method in ("position_tables", "logits_from_first_layer"):
        if not hasattr(module, method):
            raise ArtifactError(path, f"the TorchScript module lacks {method}()")
    _check_forward(path, module, len(vocab), block_size)
    words: frozenset[str] = frozenset()
    raw = extra[WORDS_FILE]
    if raw:
        try:
            words = frozenset(gzip.decompress(raw if isinstance(raw, bytes) else raw.encode()).decode().split("\n"))
        except (OSError, UnicodeDecodeError, EOFError):
            raise ArtifactError(path, "words.txt.gz inside the file is corrupt") from None
    module.eval()
    if hasattr(module, "use_int8_kernels"):  # the served layout
        module.use_int8_kernels(INT8_KERNELS)
    return Artifact(path, module, meta, tuple(vocab), block_size, words)


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
