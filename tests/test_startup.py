"""Startup: the artifact is loaded once at startup, a bad one stops the process with one line naming the file,
and readiness waits for the model and a warm-up sample."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from servers import REPO_ROOT, SERVE_COMMAND, ServerProcess, free_port, uvicorn_command

from app.engine.artifact import MODEL_HINT
from app.engine.engine import Engine
from app.main import create_app
from app.settings import SHIPPED_MODEL, Settings

BAD_KINDS = ("missing", "random-bytes", "truncated", "not-namegen")
COMMANDS = ("serve", "uvicorn")


class TinyModule(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def write_bad_artifact(kind: str, directory: Path) -> Path:
    path = directory / f"{kind}.pt"
    if kind == "random-bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        path.write_bytes(SHIPPED_MODEL.read_bytes()[: SHIPPED_MODEL.stat().st_size // 2])
    elif kind == "not-namegen":
        torch.jit.save(torch.jit.script(TinyModule()), str(path))  # a valid TorchScript file, just not ours
    return path  # "missing": never written


@pytest.fixture(scope="module")
def refused_starts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], tuple[Path, int, str]]]:
    """Every (bad artifact, command) pair started at once; (path, exit code, stdout+stderr) of each."""
    directory = tmp_path_factory.mktemp("bad-artifacts")
    running = {}
    for kind in BAD_KINDS:
        path = write_bad_artifact(kind, directory)
        for command in COMMANDS:
            port = free_port()
            env = {**os.environ, "NAMEGEN_MODEL_PATH": str(path), "NAMEGEN_PORT": str(port)}
            argv = SERVE_COMMAND if command == "serve" else uvicorn_command(port)
            process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            running[(kind, command)] = (path, process)
    results = {}
    try:
        for key, (path, process) in running.items():
            output, _ = process.communicate(timeout=90)
            results[key] = (path, process.returncode, output.decode(errors="replace"))
        yield results
    finally:
        for _, process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.server
@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_artifact_stops_startup_with_one_line_naming_the_file(
    refused_starts: dict[tuple[str, str], tuple[Path, int, str]], kind: str, command: str
) -> None:
    path, code, output = refused_starts[(kind, command)]
    # serve exits 1; plain uvicorn exits with its own startup-failure code (3), which its worker supervisor
    # also reads as "do not restart".
    assert code == (1 if command == "serve" else 3), output
    assert "Traceback" not in output
    naming_lines = [line for line in output.splitlines() if str(path) in line]
    assert len(naming_lines) == 1, output
    assert "cannot start" in naming_lines[0]
    assert "Uvicorn running" not in output


@pytest.mark.server
def test_serve_refuses_an_invalid_setting_naming_the_variable() -> None:
    env = {**os.environ, "NAMEGEN_PORT": "not-a-port"}
    done = subprocess.run(SERVE_COMMAND, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "NAMEGEN_PORT" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_readiness_is_false_until_startup_has_run() -> None:
    app = create_app(Settings())
    unstarted = TestClient(app)  # no `with`: the lifespan (load + warm-up) has not run
    response = unstarted.get("/readyz")
    assert (response.status_code, response.json()) == (503, {"status": "starting"})
    assert unstarted.get("/model").status_code == 503
    with TestClient(app) as started:
        assert started.get("/readyz").json() == {"status": "ready"}


def test_failed_warm_up_keeps_the_service_unready(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_warm_up(self: Engine) -> None:
        raise RuntimeError("warm-up sample failed")

    monkeypatch.setattr(Engine, "warm_up", broken_warm_up)
    app = create_app(Settings())
    with pytest.raises(RuntimeError, match="warm-up sample failed"), TestClient(app):
        pass
    assert app.state.ready is False
    assert TestClient(app).get("/readyz").status_code == 503


def test_startup_objects_are_frozen_out_of_the_garbage_collector() -> None:
    # In a fresh process: what the lifespan loaded (model, word list, app) is no longer walked by a full
    # collection, which took 90 ms a time and set the p99 of /sample under load.
    code = (
        "import gc; from fastapi.testclient import TestClient; from app.main import create_app\n"
        "with TestClient(create_app()):\n"
        "    print(gc.get_freeze_count(), len(gc.get_objects()))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    frozen, still_tracked = map(int, out.stdout.splitlines()[-1].split())  # after the JSON log lines
    assert frozen > 100_000 and still_tracked < frozen // 10


def test_model_is_loaded_from_the_configured_path_only(tmp_path: Path) -> None:
    copy = tmp_path / "other-name.pt"
    shutil.copyfile(SHIPPED_MODEL, copy)
    with TestClient(create_app(Settings(model_path=copy))) as client:
        info = client.get("/model").json()
    assert info["file"] == "other-name.pt"
    assert info["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert str(tmp_path) not in str(info)  # the file's name, never its directory


def test_importing_the_app_module_loads_no_model() -> None:
    # uvicorn imports app.main:app before the lifespan; a bad path must not fail (or load) at import.
    code = "import app.main as m, sys; sys.exit(0 if not hasattr(m.app.state, 'engine') else 5)"
    env = {**os.environ, "NAMEGEN_MODEL_PATH": "/nonexistent/model.pt"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.server
def test_serve_starts_the_shipped_model_and_answers(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    info = httpx.get(f"{server.base_url}/model", timeout=5).json()
    assert info["sha256"] == hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest()
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).json() == {"status": "ok"}


@pytest.mark.server
def test_serve_with_several_workers_refuses_a_bad_artifact_before_starting_any(tmp_path: Path) -> None:
    path = write_bad_artifact("random-bytes", tmp_path)
    env = {**os.environ, "NAMEGEN_MODEL_PATH": str(path), "NAMEGEN_WORKERS": "2", "NAMEGEN_PORT": str(free_port())}
    done = subprocess.run(SERVE_COMMAND, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1
    assert done.stderr.count(str(path)) == 1 and "Traceback" not in done.stderr + done.stdout
    assert "Started parent process" not in done.stdout


@pytest.mark.server
@pytest.mark.parametrize("name", ["bad\nname.pt", "bad\x1b[31mname.pt"])
def test_a_file_name_with_a_control_character_stays_escaped_in_the_one_line_error(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(os.urandom(64))
    env = {**os.environ, "NAMEGEN_MODEL_PATH": str(tmp_path), "NAMEGEN_PORT": str(free_port())}
    done = subprocess.run(SERVE_COMMAND, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1
    assert done.stderr == f"namegen: cannot start: {str(tmp_path / name)!r}: not a TorchScript archive ({MODEL_HINT})\n"
