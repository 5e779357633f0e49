"""The lock: requirements.lock pins every dependency (runtime, training, dev, and what installs the project) at one
version with its hashes; requirements-image.lock is its runtime part for the image. `make lock` writes both."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from servers import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
IMAGE_LOCK = REPO_ROOT / "requirements-image.lock"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
REFRESH = "out of date with pyproject.toml or requirements.in: run `make lock`"


def pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) for each requirement of a pip requirements file with hashes."""
    text = re.sub(r"\s*\\\n\s*", " ", path.read_text())  # continuation lines joined
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        name, pinned = requirement.split("==")
        found[canonicalize_name(name)] = (pinned, frozenset(o.removeprefix("--hash=") for o in options))
    return found


def declared(extras: bool) -> list[Requirement]:
    """pyproject.toml's requirements: the runtime ones, with every extra's and the build system's if asked."""
    project = PYPROJECT["project"]
    texts = list(project["dependencies"]) + list(PYPROJECT["build-system"]["requires"])
    if extras:
        texts += [text for group in project["optional-dependencies"].values() for text in group]
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize("path", [LOCK, IMAGE_LOCK], ids=lambda p: p.name)
def test_every_locked_package_is_one_exact_version_with_sha256_hashes(path: Path) -> None:
    locked = pins(path)
    assert len(locked) > 20
    for name, (pinned, hashes) in locked.items():
        assert Version(pinned) and hashes, name
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


@pytest.mark.parametrize(("path", "extras"), [(LOCK, True), (IMAGE_LOCK, False)], ids=["full", "image"])
def test_the_lock_satisfies_every_requirement_pyproject_declares(path: Path, extras: bool) -> None:
    locked = pins(path)
    for requirement in declared(extras):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not locked: {REFRESH}"
        assert requirement.specifier.contains(locked[name][0], prereleases=True), f"{requirement}: {REFRESH}"


def test_torch_is_locked_to_the_cpu_build_requirements_in_names() -> None:
    (torch_in,) = [
        line for line in (REPO_ROOT / "requirements.in").read_text().splitlines() if line.startswith("torch")
    ]
    for path in (LOCK, IMAGE_LOCK):
        assert f"torch=={pins(path)['torch'][0]}" == torch_in == "torch==2.13.0+cpu"
        assert not [name for name in pins(path) if name.startswith("nvidia-")]  # no CUDA libraries


def test_the_image_lock_is_the_runtime_part_of_the_full_lock_at_the_same_versions_and_hashes() -> None:
    full, image = pins(LOCK), pins(IMAGE_LOCK)
    assert image.items() <= full.items()
    dev_only = {canonicalize_name(r.name) for r in declared(extras=True)} - {
        canonicalize_name(r.name) for r in declared(extras=False)
    }
    assert {"pytest", "ruff", "mypy", "matplotlib", "uv"} <= dev_only
    assert not dev_only & image.keys()


def test_this_environment_runs_exactly_the_locked_versions() -> None:
    """The tests ran on what the image and `make venv` install: every locked package, at its locked version."""
    wrong = {}
    for name, (pinned, _) in pins(LOCK).items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "missing"
        if installed != pinned:
            wrong[name] = f"{installed}, locked {pinned}"
    assert not wrong, f"the environment differs from requirements.lock (make venv installs it): {wrong}"
