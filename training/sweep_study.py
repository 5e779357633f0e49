"""Where a sweep's trials live: the data they share, and the Optuna study opened, made or joined in a storage.

A study records the settings it was made with (sampler, space, seed, the data's sha256); a worker that joins
it must bring the same ones, and `--resume` takes them from it.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from app.hashing import file_sha256
from training.command import CommandError
from training.data import DataError, Split, Vocabulary, read_words, reference_split
from training.train import SplitWindows

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process ran a trial, in the study and results.csv
# A worker killed mid-trial stops beating; any worker marks its trial failed after the grace period.
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120


@dataclass
class SweepData:
    """The words, their split and, per context length, the windows every trial of that length trains on."""

    path: Path
    words: list[str]
    vocab: Vocabulary
    split: Split
    sha256: str
    windows_by_context: dict[int, SplitWindows] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, path: Path) -> SweepData:
        words = read_words(path)
        split = reference_split(words)
        if not split.dev:
            raise DataError(f"{path}: {len(words)} words leave the dev split empty; a sweep needs at least 10")
        return cls(path, words, Vocabulary.from_words(words), split, file_sha256(path))

    def windows(self, block_size: int) -> SplitWindows:
        if block_size not in self.windows_by_context:
            self.windows_by_context[block_size] = SplitWindows.build(self.split, self.vocab, block_size)
        return self.windows_by_context[block_size]


@dataclass
class StudySettings:
    mode: str
    space: dict[str, list[Any]]
    seed: int
    data_name: str
    data_sha256: str

    def sampler_seed(self, joined: bool, trials_so_far: int) -> int:
        """The study's seed for the process that made it. A process that joined it, or resumes it, must not
        draw the settings the first one drew: its seed also takes its process id and the trials so far."""
        if not joined:
            return self.seed
        return (self.seed + 1_000_003 * os.getpid() + trials_so_far) % 2**32


def sqlite_url(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"


def shown_url(url: str) -> str:
    """The storage URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def latest_run(runs: Path) -> Path:
    studies = sorted(runs.glob("sweep-*/study.db"), key=lambda p: p.stat().st_mtime)
    if not studies:
        raise CommandError(f"no sweep to resume in {runs}/: name one with --out, or --storage and --study")
    return studies[-1].parent


def open_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are marked so
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS)
        except sqlalchemy.exc.IntegrityError as exc:
            # Workers started together on an empty database each make Optuna's tables; all but one collide,
            # and find the tables made when they try again.
            error: Exception = exc
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, RuntimeError) as exc:
            error = exc
            break
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise CommandError(f"storage {shown_url(url)}: cannot open it: {reason}")


def stored_settings(study: optuna.Study, url: str, wait_seconds: float = 10.0) -> StudySettings:
    """The settings the study was made with; a worker that made it an instant ago may still be writing them."""
    deadline = time.monotonic() + wait_seconds
    while "settings" not in study.user_attrs and time.monotonic() < deadline:
        time.sleep(0.2)
    if "settings" not in study.user_attrs:
        raise CommandError(f"study {study.study_name!r} in {shown_url(url)} was not made by namegen sweep")
    return StudySettings(**study.user_attrs["settings"])


def open_study(
    url: str, name: str, wanted: StudySettings | None, data: Any, out: Path
) -> tuple[optuna.Study, StudySettings, bool]:
    """Make the study `name` with the `wanted` settings, or join it if it exists with the same ones; with
    `wanted` None (--resume), load it with its own. Returns the study, its settings and whether it existed."""
    if url.startswith("sqlite:"):
        out.mkdir(parents=True, exist_ok=True)
    storage = open_storage(url)
    out.mkdir(parents=True, exist_ok=True)
    if wanted is not None:
        try:
            study = optuna.create_study(storage=storage, study_name=name, direction="minimize")
            # JSON in the storage: lists stay lists, ints ints, floats floats.
            study.set_user_attr("settings", asdict(wanted))
            return study, wanted, False
        except optuna.exceptions.DuplicatedStudyError:
            pass  # made before, or by another worker: join it
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise CommandError(f"no study {name!r} in {shown_url(url)}: nothing to resume") from None
    settings = stored_settings(study, url)
    if settings.data_sha256 != data.sha256:
        raise CommandError(
            f"study {name!r} was made on {settings.data_name} (sha256 {settings.data_sha256[:12]}…), "
            f"not on {data.path}: pass its --data"
        )
    differ = [key for key in ("mode", "space", "seed") if wanted and getattr(wanted, key) != getattr(settings, key)]
    if differ:
        raise CommandError(
            f"study {name!r} in {shown_url(url)} was made with another {', '.join(differ)}: "
            "--resume continues it with its own, --study NAME starts another"
        )
    return study, settings, True
