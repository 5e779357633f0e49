"""Another git revision of this repository, served beside this tree so that both are measured in one run.

`checkout(REV)` extracts the revision (`git archive`: no worktree to clean up, the repository left untouched) into
a temporary directory; `serve_module(root)` names the serve command that checkout has (`app.http.serve`, or
`app.serve` before the HTTP edge moved into its own package); bench_http.start_server(..., root=...) runs it with
the same interpreter, venv and settings as this tree's.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVE_MODULES = ("app.http.serve", "app.serve")  # newest layout first


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def serve_module(root: Path) -> str:
    for module in SERVE_MODULES:
        if (root / (module.replace(".", "/") + ".py")).is_file():
            return module
    raise SystemExit(f"{root}: none of {', '.join(SERVE_MODULES)} exists")


def describe(revision: str) -> str:
    """'1a6c0c8 (Review: the graceful-timeout 503 ...)': the short hash and the start of its subject."""
    line = git("log", "-1", "--format=%h %s", revision)
    short, _, subject = line.partition(" ")
    return f"{short} ({subject[:60]}{'...' if len(subject) > 60 else ''})"


def this_tree() -> str:
    """HEAD's short hash, and whether the service's code has uncommitted changes (they are what gets measured)."""
    dirty = git("status", "--porcelain", "--", "app")
    return f"{git('rev-parse', '--short', 'HEAD')}{' + uncommitted changes in app/' if dirty else ''}"


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    git("rev-parse", "--verify", f"{revision}^{{commit}}")  # a clear error for a revision that does not exist
    with tempfile.TemporaryDirectory(prefix="namegen-rev-") as directory:
        archive = Path(directory) / "rev.tar"
        subprocess.run(["git", "archive", "-o", str(archive), revision], cwd=REPO, check=True)
        root = Path(directory) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
        archive.unlink()
        yield root


def models_note(root: Path) -> str:
    """Whether a checkout serves the same model files as this tree (a model change moves every figure)."""
    if any(key in os.environ for key in ("NAMEGEN_MODEL_PATH", "NAMEGEN_DEFAULT_MODEL")):
        return "models from NAMEGEN_MODEL_PATH / NAMEGEN_DEFAULT_MODEL"
    ours, theirs = REPO / "model_artifacts", root / "model_artifacts"
    names = sorted(p.name for p in ours.glob("*.pt"))
    same = names == sorted(p.name for p in theirs.glob("*.pt")) and all(
        filecmp.cmp(ours / name, theirs / name, shallow=False) for name in names
    )
    return f"{len(names)} models in model_artifacts/, " + (
        "the same files as this tree's" if same else "NOT this tree's"
    )
