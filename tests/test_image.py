"""The built container image, run: `make image-test` names it (NAMEGEN_IMAGE) and the engine (docker or podman).
It serves what this checkout's engine computes, as uid 10001 on a read-only root, passes its HEALTHCHECK, stops
cleanly on SIGTERM, has the `namegen` command, sizes its threads from its CPU limit and serves a mounted
directory as the README's docker command says. The figures it measures are printed (pytest -s)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from servers import REPO_ROOT, free_port

IMAGE = os.environ.get("NAMEGEN_IMAGE", "")
ENGINE = os.environ.get("NAMEGEN_IMAGE_ENGINE", "podman")
pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(not IMAGE, reason="needs a built image: `make image image-test` (NAMEGEN_IMAGE names it)"),
]


def engine(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([ENGINE, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{ENGINE} {shlex.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def figure(text: str) -> None:
    print(f"\nimage: {text}", flush=True)


@dataclass
class Container:
    name: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return engine("exec", self.name, *command, check=check)

    def logs(self) -> str:
        done = engine("logs", self.name, check=False)
        return done.stdout + done.stderr

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds until /readyz answers 200."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            state = engine("inspect", "--format", "{{.State.Running}}", self.name).stdout.strip()
            if state != "true":
                raise AssertionError(f"container exited:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - start
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready within {timeout} s:\n{self.logs()[-3000:]}")

    def remove(self) -> None:
        engine("rm", "--force", self.name, check=False)


# A read-only root with nothing writable: podman would otherwise mount tmpfs on /tmp and /run, docker does not.
READ_ONLY = ["--read-only", *(["--read-only-tmpfs=false"] if ENGINE.endswith("podman") else [])]


def run_detached(run_args: list[str]) -> Container:
    """`ENGINE run` with run_args (image included), detached and named, on a free loopback port, read-only."""
    port = free_port()
    container = Container(f"namegen-test-{port}", port)
    engine("run", "--detach", "--name", container.name, "--publish", f"127.0.0.1:{port}:8000", *READ_ONLY, *run_args)
    return container


@pytest.fixture(scope="module")
def served() -> Iterator[Container]:
    """The image as deployed: read-only root, its own user, its shipped models."""
    container = run_detached([IMAGE])
    try:
        figure(f"ready in {container.wait_ready():.1f} s")
        yield container
        status = dict(line.split(":", 1) for line in container.exec("cat", "/proc/1/status").stdout.splitlines())
        figure(f"resident {int(status['VmRSS'].split()[0]) / 1024:.0f} MiB after the tests")
    finally:
        container.remove()


def here(*args: str) -> str:
    """The `namegen` command of this checkout (its engine, its model_artifacts/), not the image's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMEGEN_")}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_image_samples_the_names_this_checkout_samples_for_a_seed(served: Container) -> None:
    params = {"n": 20, "seed": 42, "temperature": 0.8, "prefix": "ma"}
    body = httpx.get(f"{served.base_url}/sample", params=params, timeout=30).json()
    assert body == json.loads(
        here("sample", "-n", "20", "--seed", "42", "--temperature", "0.8", "--prefix", "ma", "--json")
    )
    assert body["returned"] == 20 and all(name.startswith("ma") for name in body["names"])


def test_the_image_scores_and_predicts_as_this_checkout_does(served: Container) -> None:
    batch = httpx.post(f"{served.base_url}/score/batch", json={"texts": ["emma", "zzyzx"]}, timeout=30).json()
    assert batch == json.loads(here("score", "emma", "zzyzx", "--json"))
    single = httpx.post(f"{served.base_url}/score", json={"text": "emma"}, timeout=30).json()
    assert single == batch["results"][0]
    after = httpx.get(f"{served.base_url}/next", params={"prefix": "em"}, timeout=30).json()
    assert after == json.loads(here("next", "--prefix", "em", "--json"))


def test_the_image_is_alive_and_ready(served: Container) -> None:
    assert httpx.get(f"{served.base_url}/healthz", timeout=10).status_code == 200
    assert httpx.get(f"{served.base_url}/readyz", timeout=10).status_code == 200


def test_the_image_runs_as_uid_10001_on_a_read_only_root(served: Container) -> None:
    assert served.exec("id", "-u").stdout.strip() == "10001"
    for path in ("/srv/app/written", "/opt/venv/written", "/tmp/written"):
        refused = served.exec("touch", path, check=False)
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr, path


def test_the_image_passes_its_own_healthcheck(served: Container) -> None:
    if ENGINE.endswith("podman"):
        assert engine("healthcheck", "run", served.name).returncode == 0
    else:  # docker runs the HEALTHCHECK itself, every 10 s
        deadline = time.monotonic() + 60
        while (status := engine("inspect", "--format", "{{.State.Health.Status}}", served.name).stdout.strip()) != (
            "healthy"
        ) and time.monotonic() < deadline:
            time.sleep(1)
        assert status == "healthy"


def test_the_image_has_the_namegen_command() -> None:
    shown = engine("run", "--rm", *READ_ONLY, IMAGE, "namegen", "sample", "-n", "5", "--seed", "1").stdout
    assert shown == here("sample", "-n", "5", "--seed", "1")
    refused = engine("run", "--rm", *READ_ONLY, IMAGE, "namegen", "train", check=False)
    assert refused.returncode == 2 and "training/ package" in refused.stderr  # the image does not train


def test_the_image_sizes_its_sampler_threads_from_its_cpu_limit() -> None:
    ask = ["python", "-c", "from app.settings import Settings; print(Settings().resolved_sampler_threads())"]
    assert engine("run", "--rm", "--cpus", "1", IMAGE, *ask).stdout.strip() == "1"
    cores = engine("run", "--rm", IMAGE, "nproc").stdout.strip()
    assert engine("run", "--rm", IMAGE, *ask).stdout.strip() == cores


def readme_block(heading: str, contains: str) -> str:
    """The ```bash block under a README heading (## or **bold**) that contains the given text."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return next(block for block in blocks if contains in block)


def test_the_readmes_docker_command_serves_the_own_models_directory_read_only(tmp_path: Path) -> None:
    """Several models' lines build my-models/ from a clone that trained my.pt; the docker command serves it."""
    for name in ("us-surnames.pt", "lecture-mlp.pt"):
        (tmp_path / "model_artifacts").mkdir(exist_ok=True)
        shutil.copyfile(REPO_ROOT / "model_artifacts" / name, tmp_path / "model_artifacts" / name)
    # Stands in for `namegen train ... --out model_artifacts/my.pt` (Training your own model).
    (tmp_path / "model_artifacts" / "lecture-mlp.pt").rename(tmp_path / "model_artifacts" / "my.pt")
    (mkdir,) = [line for line in readme_block("**Several models.**", "my-models").splitlines() if "cp " in line]
    subprocess.run(["bash", "-c", mkdir], cwd=tmp_path, check=True, timeout=30)
    (command,) = [
        line
        for line in readme_block("## Deployment", "my-models").replace("\\\n", " ").splitlines()
        if "docker run" in line and "my-models" in line
    ]
    words = shlex.split(command.replace("$PWD", str(tmp_path)), comments=True)
    assert words[:2] == ["docker", "run"]
    published = words.index("-p")  # the README's port; the test's own free one instead
    container = run_detached([*words[2:published], *words[published + 2 :]])
    try:
        container.wait_ready()
        listed = httpx.get(f"{container.base_url}/models", timeout=10).json()
        served = {model["name"] for model in listed["models"]}
        assert served == {path.stem for path in (tmp_path / "my-models").glob("*.pt")} == {"my", "us-surnames"}
        default = dict(w.split("=", 1) for w in words if w.startswith("NAMEGEN_")).get("NAMEGEN_DEFAULT_MODEL", "my")
        assert listed["default"] == default
        refused = container.exec("touch", "/models/written", check=False)
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    finally:
        container.remove()


def test_the_image_stops_on_sigterm_with_exit_status_0() -> None:
    container = run_detached([IMAGE])
    try:
        container.wait_ready()
        start = time.monotonic()
        engine("stop", "--time", "20", container.name)  # SIGTERM, then SIGKILL after 20 s
        figure(f"stopped {time.monotonic() - start:.1f} s after SIGTERM")
        assert engine("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout.strip() == "0"
        assert '"message":"draining"' in container.logs()
    finally:
        container.remove()
