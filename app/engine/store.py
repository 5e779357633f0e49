"""The model store: every artifact the service serves, by name, over one shared scheduler.

NAMEGEN_MODEL_PATH names one artifact file or a directory of them. In a directory, every `*.pt` file is a
model named by its file stem (`model_artifacts/us-surnames.pt` is `us-surnames`); other files (model cards,
plots, the `*.trained.pt` weights a training run keeps) are ignored. Loading is all or nothing: one broken
artifact refuses the whole store, naming the file, so a typo in a deployment fails at startup rather than on some
later request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.engine.artifact import (
    ARTIFACT_SUFFIX,
    TRAINED_WEIGHTS_SUFFIX,
    Artifact,
    ArtifactError,
    load_artifact,
    shown,
)
from app.engine.engine import Engine
from app.engine.limits import EngineLimits
from app.engine.scheduler import Scheduler

PREFERRED_DEFAULT = "names-mlp"  # the shipped first-names model, when the store has it


class UnknownModel(LookupError):
    """A request named a model the store does not serve."""

    def __init__(self, name: str, served: list[str]) -> None:
        asked = name if len(name) <= 64 else f"{name[:64]}..."  # a query string can be kilobytes long
        super().__init__(f"unknown model {asked!r}; the models are: {', '.join(map(shown, served))}")
        self.served = served


def is_model_file(path: Path) -> bool:
    name = path.name
    return name.endswith(ARTIFACT_SUFFIX) and not name.startswith(".") and not name.endswith(TRAINED_WEIGHTS_SUFFIX)


def artifact_files(path: Path) -> dict[str, Path]:
    """Model name -> file: the file itself, or every visible `*.pt` file directly in the directory (trained weights
    excepted), by name."""
    if not path.is_dir():
        return {path.stem: path}  # load_artifact says what is wrong with a missing or odd file
    try:
        files = sorted(p for p in path.iterdir() if is_model_file(p))
    except OSError as exc:
        raise ArtifactError(path, f"cannot list the model directory ({exc.strerror or type(exc).__name__})") from None
    if not files:
        raise ArtifactError(path, f"no model files (*{ARTIFACT_SUFFIX}) in this directory")
    return {p.stem: p for p in files}


def choose_default(names: list[str], wanted: str | None, path: Path) -> str:
    """The model used when a request names none: `wanted` if given (it must be served), else names-mlp if
    served, else the first name in alphabetical order."""
    if wanted is not None:
        if wanted not in names:
            raise ArtifactError(
                path, f"NAMEGEN_DEFAULT_MODEL={wanted!r} is not among the models found ({', '.join(map(shown, names))})"
            )
        return wanted
    return PREFERRED_DEFAULT if PREFERRED_DEFAULT in names else names[0]


def model_file(path: Path, name: str | None, default: str | None = None) -> Path:
    """The file of the model `name` (None: the default one) in `path`, without loading any: for the CLI."""
    files = artifact_files(path)
    chosen = name if name is not None else choose_default(list(files), default, path)
    if chosen not in files:
        raise UnknownModel(chosen, list(files))
    return files[chosen]


def chosen_model_file(store_path: Path, default: str | None, model: str | None = None) -> Path:
    """For the CLI and the benchmarks: `model` as a path when it names a file or looks like one, else as a model
    name in the store at `store_path` (None: its default model, `default` if given)."""
    if model is not None and (Path(model).is_file() or "/" in model or model.endswith(ARTIFACT_SUFFIX)):
        return Path(model)
    return model_file(store_path, model, default)


def load_artifacts(path: Path, default: str | None = None) -> tuple[dict[str, Artifact], str]:
    """Every artifact of `path` loaded and checked (ArtifactError naming the first broken file), and the
    default model's name."""
    files = artifact_files(path)
    artifacts = {name: load_artifact(file) for name, file in files.items()}
    return artifacts, choose_default(list(artifacts), default, path)


@dataclass
class ModelStore:
    engines: dict[str, Engine]  # by name, in alphabetical order
    default: str
    scheduler: Scheduler

    @classmethod
    def load(cls, path: Path, default: str | None, limits: EngineLimits) -> ModelStore:
        """Every model at `path` (a file or a directory), `default` the one a request that names none gets."""
        artifacts, chosen = load_artifacts(path, default)
        scheduler = Scheduler(limits.max_queued_work)
        engines = {name: Engine(artifact, limits, scheduler, name) for name, artifact in artifacts.items()}
        return cls(engines, chosen, scheduler)

    @property
    def names(self) -> list[str]:
        return list(self.engines)

    def engine(self, name: str | None = None) -> Engine:
        """The named model's engine (the default one for None); UnknownModel lists what is served."""
        if name is None:
            return self.engines[self.default]
        try:
            return self.engines[name]
        except KeyError:
            raise UnknownModel(name, self.names) from None

    def __iter__(self) -> Iterator[Engine]:
        return iter(self.engines.values())

    async def warm_up(self) -> None:
        for engine in self:
            await engine.warm_up()

    def queue_full(self) -> bool:
        """No request larger than a small one would be admitted now."""
        return self.scheduler.full()

    def queued_work(self) -> int:
        """Contexts of work queued or running, all models together."""
        return self.scheduler.queued_work

    def close(self) -> None:
        self.scheduler.close()
