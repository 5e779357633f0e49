"""The container image, checked without a Docker engine: the Dockerfile is lint-clean, runs the same serve
command as `make serve`, installs the hash-checked lock, and its final stage (non-root, no build tools) serves
and passes its own HEALTHCHECK when laid out as the image lays it out. tests/test_image.py runs the built image."""

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


def global_args() -> dict[str, str]:
    """The ARG defaults declared before the first FROM (usable in FROM lines)."""
    found: dict[str, str] = {}
    for keyword, args in instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = args.partition("=")
            found[name] = default
    return found


def stages() -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, args))
    return result


def stage(name: str) -> list[Instruction]:
    (found,) = [s for s in stages() if only(s, "FROM")[0].split()[-1] == name]
    return found


def final_stage() -> list[Instruction]:
    return stages()[-1]


def base_image(stage: list[Instruction]) -> str:
    """The image a stage starts from, build arguments replaced by their defaults."""
    image = only(stage, "FROM")[0].split()[0]
    for name, default in global_args().items():
        image = image.replace("${" + name + "}", default)
    return image


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
    assert json.loads(cmd) == makefile_serve_command() == ["python", "-m", "app.http.serve"]


def test_build_and_final_stage_start_from_the_same_slim_python_311() -> None:
    assert re.fullmatch(r"python:3\.11-slim\S*", base_image(final_stage()))
    assert base_image(stage("build")) == base_image(final_stage())


def test_final_stage_is_non_root_and_exposes_the_served_port() -> None:
    stage = final_stage()
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


def pip_installs(lines: list[str]) -> list[list[str]]:
    """The arguments after `pip install` of each line that runs it."""
    return [shlex.split(line.split("pip install", 1)[1].split("&&")[0]) for line in lines if "pip install" in line]


def makefile_variable(name: str) -> str:
    (line,) = [line for line in (REPO_ROOT / "Makefile").read_text().splitlines() if re.match(rf"{name}\s*:?=", line)]
    return line.split("=", 1)[1].strip()


def test_the_venv_and_the_image_install_only_the_hash_checked_lock_and_then_the_app_itself() -> None:
    """Every dependency comes from a lock, hash-checked; the project itself goes in with no dependencies."""
    makefile = pip_installs((REPO_ROOT / "Makefile").read_text().splitlines())
    dockerfile = pip_installs(only(stage("build"), "RUN"))
    for installs, lock in ((makefile, "requirements.lock"), (dockerfile, "/build/requirements-image.lock")):
        locked, itself = installs
        assert "--require-hashes" in locked and locked[-2:] == ["-r", lock]
        assert "--no-deps" in itself and itself[-1] == "." and ("-e" in itself or "--editable" in itself)
    assert any(args.split()[0] == "requirements-image.lock" for args in only(stage("build"), "COPY"))


def test_torch_comes_from_pytorchs_cpu_index_unless_a_local_wheel_directory_is_given() -> None:
    (torch_wheels,) = [args for args in only(stage("build"), "ARG") if args.startswith("TORCH_WHEELS=")]
    index = "https://download.pytorch.org/whl/cpu/torch/"  # the Makefile's too: one source of torch everywhere
    assert torch_wheels == f"TORCH_WHEELS={index}" and makefile_variable("TORCH_INDEX") == index
    # The local directory is a build context named torch-wheels, empty unless given, mounted where pip looks.
    assert only(stage("torch-wheels"), "FROM") == ["scratch AS torch-wheels"]
    (install,) = [run for run in only(stage("build"), "RUN") if "--require-hashes" in run]
    assert "--mount=type=bind,from=torch-wheels,target=/wheels" in install
    assert '--find-links "$TORCH_WHEELS"' in install


def test_the_ca_bundle_reaches_pip_only_as_a_build_secret() -> None:
    """A proxy's CA bundle is mounted for the install alone: no instruction copies a certificate into a layer."""
    (install,) = [run for run in only(stage("build"), "RUN") if "--require-hashes" in run]
    assert "--mount=type=secret,id=ca" in install and "PIP_CERT=/run/secrets/ca" in install
    for keyword, args in instructions():
        if keyword in ("COPY", "ADD", "ENV"):
            assert not re.search(r"\.(pem|crt)\b|CERT|secrets", args), args


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
    for path in (".venv", ".git", ".cache/axe", "run.ckpt", "app/__pycache__/main.cpython-311.pyc", "tests", "data"):
        assert ignored(path), path
    copied = [
        src for stage in stages() for args in only(stage, "COPY") if "--from" not in args for src in args.split()[:-1]
    ]
    assert set(copied) == {"requirements-image.lock", "pyproject.toml", "README.md", "app", "model_artifacts"}
    for path in ("app/main.py", "app/static/app.js", "model_artifacts/names-mlp.pt", *copied):
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


@pytest.mark.server
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
