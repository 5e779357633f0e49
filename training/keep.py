"""No training run is lost: the output is checked before training, Ctrl-C stops training without losing it, and the
trained weights are saved before the export and kept when it fails, with one line saying how to export them again
(`namegen train --reexport <out>.trained.pt`)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from pathlib import Path

from app.engine.artifact import ArtifactError, ArtifactMeta, model_file_of_weights
from training.command import DEFAULT_MODEL, CommandError
from training.data import shown
from training.model import NameMLP

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


def check_out(out: Path) -> None:
    """Refuse an output that cannot be written before any training, not after it (creating nothing)."""
    if out.is_dir():
        raise CommandError(f"{shown(out)}: is a directory; --out names the model file to write, e.g. {DEFAULT_MODEL}")
    existing = next(p for p in out.absolute().parents if p.exists())  # the directory the export will create from
    if not existing.is_dir():
        raise CommandError(f"{shown(out)}: cannot write there ({shown(existing)} is not a directory)")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise CommandError(f"{shown(out)}: cannot write there ({exc.strerror or type(exc).__name__})") from None
    if out.exists() and not os.access(out, os.W_OK):
        raise CommandError(f"{shown(out)}: exists and is read-only")


def reexport_command(weights: Path, out: Path) -> str:
    return f"`namegen train --reexport {shown(weights)} --out {shown(out)}`"


class CtrlC:
    """While installed, a first Ctrl-C asks training to stop after its step (the weights so far are kept); a second
    one stops the command at once."""

    def __init__(self) -> None:
        self.pressed = threading.Event()

    def __enter__(self) -> CtrlC:
        self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)

    def handle(self, signum: int, frame: object) -> None:
        if self.pressed.is_set():
            raise KeyboardInterrupt
        self.pressed.set()


def export_or_keep(model: NameMLP, meta: ArtifactMeta, words: list[str], weights: Path, out: Path) -> None:
    """export_trained; any failure of it becomes one line saying where the weights are and how to export them again."""
    from training.export import export_trained

    try:
        export_trained(model, meta, words, out)
    except KeyboardInterrupt:
        raise CommandError(
            f"stopped by Ctrl-C while exporting; the trained weights are kept in {shown(weights)}: "
            f"{reexport_command(weights, out)} exports them",
            EXIT_INTERRUPTED,
        ) from None
    except Exception as exc:  # the weights are safe: say why in one line rather than lose the run to a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError):
            reason = f"{shown(out)}: cannot be written ({exc.strerror or type(exc).__name__})"
        raise CommandError(
            f"{reason}; the trained weights are kept in {shown(weights)}: {reexport_command(weights, out)} "
            "exports them again",
            1,
        ) from None


def reexport(weights: Path, out: Path | None) -> None:
    """Export the weights a run kept (<out>.trained.pt) without training again; `out` by default is the model file
    they were trained for."""
    from training.export import load_trained

    out = out or model_file_of_weights(weights)
    if out == weights:
        raise CommandError(f"--out {shown(out)} would overwrite the weights it exports; name another file")
    check_out(out)
    if not weights.is_file():
        raise CommandError(f"{shown(weights)}: no such file (the weights a run kept are its <out>.trained.pt)")
    try:
        trained = load_trained(weights)
    except ArtifactError as exc:  # not a model file at all: its own one line says why
        raise CommandError(str(exc)) from None
    except Exception as exc:  # load_state_dict's error: a model file, but not the weights namegen train keeps
        raise CommandError(
            f"{shown(weights)}: not trained weights written by namegen train ({type(exc).__name__})"
        ) from None
    export_or_keep(trained.model, trained.meta, trained.words, weights, out)
    print(f"wrote {out}")
