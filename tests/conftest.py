"""Shared pytest fixtures. Each engineer's fixtures are grouped under their own heading."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.engine.artifact import Artifact, load_artifact
from app.main import create_app
from app.settings import SHIPPED_MODEL

# ---- engine and API (sampler, scorer, /sample, /score) -------------------------------------------------


@pytest.fixture(scope="session")
def artifact() -> Artifact:
    """The shipped artifact, loaded once per session."""
    return load_artifact(SHIPPED_MODEL)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The app over the shipped artifact, started once (lifespan run) for the whole session."""
    with TestClient(create_app()) as test_client:
        yield test_client


# ---- real server processes (service shell: startup, drain, workers, container) --------------------------
# Every server binds 127.0.0.1 on a free port, is waited for with a deadline, and is always killed
# (with its workers: each runs in its own process group) when the test ends.

import os  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from servers import REPO_ROOT, SERVE_COMMAND, ServerProcess, free_port, uvicorn_command  # noqa: E402


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """start_server(env={...}, uvicorn=False, wait=True): `python -m app.http.serve` (or plain uvicorn), free port."""
    started: list[ServerProcess] = []

    def start(env: dict[str, str] | None = None, uvicorn: bool = False, wait: bool = True) -> ServerProcess:
        port = free_port()
        full_env = {**os.environ, "NAMEGEN_HOST": "127.0.0.1", "NAMEGEN_PORT": str(port), **(env or {})}
        log_path = tmp_path / f"server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                uvicorn_command(port) if uvicorn else SERVE_COMMAND,
                cwd=REPO_ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = ServerProcess(process, port, log_path)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()


# ---- lanes: `make check` leaves out every test marked with one of these kinds (pyproject.toml describes them);
# a test that uses the start_server fixture is marked `server` here, so a new one needs no mark of its own.
SLOW_KINDS = ("server", "browser", "training", "database", "image")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "start_server" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("server"):
            item.add_marker("server")
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker("slow")
