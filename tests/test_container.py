"""The container image, checked without a Docker engine: the Dockerfile is lint-clean, runs the same serve
command as `make serve`, installs exactly pyproject's dependencies, and its final stage (non-root, no build
tools) serves and passes its own HEALTHCHECK when laid out as the image lays it out."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
from servers import REPO_ROOT, ServerProcess, free_port

from app.settings import Settings

DOCKERFILE = REPO_ROOT / "Dockerfile"
Instruction = tuple[str, str]


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def stages() -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, args))
    return result


def final_stage() -> list[Instruction]:
    return stages()[-1]


def only(stage: list[Instruction], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in only(stage, "ENV"):
        for pair in shlex.split(args):
            key, value = pair.split("=", 1)
            env[key] = value
    return env


def healthcheck_command() -> list[str]:
    (args,) = only(final_stage(), "HEALTHCHECK")
    return list(json.loads(args.split(" CMD ", 1)[1]))


def makefile_serve_command() -> list[str]:
    lines = (REPO_ROOT / "Makefile").read_text().splitlines()
    recipe = lines[lines.index(next(line for line in lines if line.startswith("serve:"))) + 1]
    return recipe.strip().replace("$(BIN)/", "").split()


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_command_is_the_makefile_serve_command() -> None:
    (cmd,) = only(final_stage(), "CMD")
    assert json.loads(cmd) == makefile_serve_command() == ["python", "-m", "app.serve"]


def test_final_stage_is_slim_non_root_and_exposes_the_served_port() -> None:
    stage = final_stage()
    assert re.fullmatch(r"python:3\.11-slim\S*", only(stage, "FROM")[0].split()[0])
    (user,) = only(stage, "USER")
    assert user.split(":")[0] not in ("0", "root")
    env = env_of(stage)
    assert env["NAMEGEN_HOST"] == "0.0.0.0"
    assert only(stage, "EXPOSE") == [env["NAMEGEN_PORT"]] == [str(Settings().port)]
    assert "/healthz" in " ".join(healthcheck_command())


def test_final_stage_has_no_build_tools() -> None:
    final_runs = " ".join(only(final_stage(), "RUN"))
    for tool in ("apt-get", "gcc", "build-essential", "pip install", "make "):
        assert tool not in final_runs
    assert any(args.startswith("--from=build /opt/venv") for args in only(final_stage(), "COPY"))


def pyproject_dependencies() -> list[str]:
    return list(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def test_torch_is_pinned_once_in_the_constraints_file() -> None:
    pins = [line for line in (REPO_ROOT / "constraints.txt").read_text().splitlines() if line.startswith("torch")]
    assert pins == ["torch==2.13.0"]
    assert "torch" in pyproject_dependencies()  # named, not pinned: the pin lives in constraints.txt


def test_every_pip_install_in_the_makefile_and_the_build_stage_uses_the_constraints_file() -> None:
    makefile_installs = [
        line
        for line in (REPO_ROOT / "Makefile").read_text().splitlines()
        if "pip install" in line and "-upgrade pip" not in line
    ]
    docker_installs = [run for run in only(stages()[0], "RUN") if "pip install" in run]
    assert len(makefile_installs) == 2 and len(docker_installs) == 2
    assert all("-c constraints.txt" in line for line in makefile_installs)
    assert all("-c /build/constraints.txt" in run for run in docker_installs)
    assert any(args.startswith("constraints.txt") for args in only(stages()[0], "COPY"))


def test_build_stage_installs_pyprojects_dependencies() -> None:
    build_runs = only(stages()[0], "RUN")
    # Run the build stage's own requirements extraction here, against this repo's pyproject.toml.
    (extract,) = [run for run in build_runs if "tomllib" in run]
    snippet = shlex.split(extract.split(">", 1)[0])[2]
    printed = subprocess.run(
        [sys.executable, "-c", snippet.replace("/build/pyproject.toml", str(REPO_ROOT / "pyproject.toml"))],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.split()  # fmt: skip
    assert printed == pyproject_dependencies()


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str) -> bool:
    parts = Path(relative).parts
    for pattern in dockerignore_patterns():
        bare = pattern.removeprefix("**/")
        if fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, bare) for part in parts):
            return True
    return False


def test_dockerignore_keeps_out_local_state_and_keeps_in_what_the_image_copies() -> None:
    for path in (".venv", ".git", "run.ckpt", "app/__pycache__/main.cpython-311.pyc", ".pytest_cache", "tests"):
        assert ignored(path), path
    for path in ("app/main.py", "app/static/app.js", "model_artifacts/names-mlp.pt", "pyproject.toml"):
        assert not ignored(path), path


def lay_out_final_stage(root: Path) -> None:
    """Copy what the final stage's plain COPY lines copy (less .dockerignore'd files) into root."""
    for args in only(final_stage(), "COPY"):
        if args.startswith("--from"):
            continue
        source, destination = args.split()
        for path in (REPO_ROOT / source).rglob("*"):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if path.is_file() and not ignored(relative):
                target = root / destination / path.relative_to(REPO_ROOT / source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


def as_local(command: list[str]) -> list[str]:
    """The image's `python` is its venv's; here it is this venv's, which holds the same dependencies."""
    return [sys.executable if command[0] == "python" else command[0], *command[1:]]


@pytest.mark.slow
def test_image_layout_serves_and_passes_its_healthcheck(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    lay_out_final_stage(root)
    assert not (root / "tests").exists() and (root / "model_artifacts" / "names-mlp.pt").is_file()
    port = free_port()
    # The image's environment, bound to loopback for the test.
    env = {**os.environ, **env_of(final_stage()), "NAMEGEN_HOST": "127.0.0.1", "NAMEGEN_PORT": str(port)}
    env.pop("NAMEGEN_MODEL_PATH", None)
    (cmd,) = only(final_stage(), "CMD")
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            as_local(json.loads(cmd)), cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ServerProcess(process, port, log_path)
    try:
        server.wait_ready()
        check = subprocess.run(as_local(healthcheck_command()), env=env, timeout=30, capture_output=True)
        assert check.returncode == 0, check.stderr
        served = httpx.get(f"{server.base_url}/model", timeout=10).json()
        assert served["sha256"] == hashlib.sha256((root / "model_artifacts" / "names-mlp.pt").read_bytes()).hexdigest()
    finally:
        server.kill()
    after = subprocess.run(as_local(healthcheck_command()), env=env, timeout=30, capture_output=True)
    assert after.returncode != 0  # the healthcheck really depends on the server answering
