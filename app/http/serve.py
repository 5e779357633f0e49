"""`python -m app.http.serve`: run the service under uvicorn with the NAMEGEN_ settings.

This is the one serve command (`make serve`, the container's CMD). It checks the settings and every model
before uvicorn starts, so a bad configuration or model file stops the process with one line and exit code 1.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from app.http.logs import log_config
from app.http.protocol import BoundedHttpProtocol
from app.settings import Settings

APP_IMPORT = "app.main:app"
EXIT_STARTUP_FAILURE = 1


def fail(message: str) -> int:
    print(f"namegen: cannot start: {message}", file=sys.stderr, flush=True)
    return EXIT_STARTUP_FAILURE


def settings_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = "NAMEGEN_" + "_".join(str(p) for p in first["loc"]).upper()
    return f"invalid setting {name}: {first['msg']}"


def prepare_multiprocess_metrics() -> Path | None:
    """Several workers share one metrics directory (prometheus-client multiprocess mode), emptied per run.

    Returns a directory this run created (to remove at exit), or None when the operator chose one.
    """
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if chosen:
        directory = Path(chosen)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return None
    created = Path(tempfile.mkdtemp(prefix="namegen-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(created)  # inherited by the spawned workers
    return created


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        APP_IMPORT,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop=settings.loop,
        http=BoundedHttpProtocol,  # reads its limits from the same NAMEGEN_ settings, in each worker
        ws="none",  # no WebSocket routes: an upgrade request is an ordinary (refused) HTTP request
        timeout_keep_alive=int(settings.keep_alive_seconds),  # BoundedHttpProtocol uses the exact value
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
        log_config=log_config(settings.log_level),
        access_log=False,  # the app writes its own JSON access log, with request ids
        server_header=False,
        lifespan="on",
    )


def listen(settings: Settings) -> socket.socket:
    """Bind the port before anything slow (loading, warming up): a port in use fails at once, in one line."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == 98 else exc.strerror or str(exc)
        where = f"{settings.host}:{settings.port}"
        raise OSError(f"cannot listen on {where}: {reason} (NAMEGEN_HOST, NAMEGEN_PORT)") from None
    sock.set_inheritable(True)  # the workers, spawned, serve from this socket
    return sock


def raise_descriptor_limit(settings: Settings) -> str | None:
    """Each connection is a file descriptor: make sure max_connections of them fit under RLIMIT_NOFILE, raising
    the soft limit as far as the hard one allows. Returns the problem when they cannot fit."""
    needed = settings.max_connections + 256  # the model, logs, pools and the listening socket need some too
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return None
    return (
        f"NAMEGEN_MAX_CONNECTIONS={settings.max_connections} needs {needed} file descriptors, but the limit is "
        f"{hard}: lower NAMEGEN_MAX_CONNECTIONS or raise the limit (ulimit -n)"
    )


def run(settings: Settings, sock: socket.socket) -> int:
    config = uvicorn_config(settings)
    if settings.workers == 1:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        return 0 if server.started else EXIT_STARTUP_FAILURE
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    created = prepare_multiprocess_metrics()
    try:
        supervisor = Multiprocess(config, sockets=[sock])
        supervisor.run()
        failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
        return EXIT_STARTUP_FAILURE if failed else 0
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


def models_problem(path: Path, default: str | None) -> str | None:
    """Why the models cannot be served (the loader's one-line message), or None when they all load."""
    from app.engine.artifact import ArtifactError  # imports torch
    from app.engine.store import load_artifacts

    try:
        load_artifacts(path, default)
    except ArtifactError as exc:
        return str(exc)
    return None


def check_models(settings: Settings) -> str | None:
    """Load every model once before serving. With several workers, do it in a throwaway process so the
    supervisor (which only forks and watches workers) never holds torch and the models in memory."""
    if settings.workers == 1:
        return models_problem(settings.model_path, settings.default_model)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(models_problem, (settings.model_path, settings.default_model))


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread its own malloc arena, and threads allocating tensors then hold memory that the
    resident size never gives back. glibc reads MALLOC_ARENA_MAX only at process start, so set it and
    re-execute once; an operator's own value wins, and spawned workers inherit it."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)
    os.execv(sys.executable, [sys.executable, "-m", "app.http.serve", *sys.argv[1:]])


def main() -> int:
    limit_malloc_arenas()
    try:
        settings = Settings()
    except ValidationError as exc:
        return fail(settings_problem(exc))
    problem = raise_descriptor_limit(settings)
    if problem is not None:
        return fail(problem)
    try:
        sock = listen(settings)
    except OSError as exc:
        return fail(str(exc))
    problem = check_models(settings)  # the workers load them again; this only proves they load
    if problem is not None:
        sock.close()
        return fail(problem)
    return run(settings, sock)


if __name__ == "__main__":
    sys.exit(main())
