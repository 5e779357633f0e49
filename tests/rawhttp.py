"""Raw-socket HTTP/1.1 for edge tests: requests the server must cope with that no client library sends (half a
request line, a body shorter than its Content-Length, a header that never ends), plus what the tests read about
the server process from /proc. Every wait here has a deadline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import REPO_ROOT, SERVE_COMMAND, ServerProcess, free_port

HOST = "127.0.0.1"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=timeout)


def request_head(method: str, target: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket, timeout: float = 10.0, head_only: bool = False) -> RawResponse:
    """One response from the socket: status, headers and a Content-Length body (none when head_only).
    Raises AssertionError when the server closes or stays silent before the response is complete."""
    deadline = time.monotonic() + timeout
    data = b""

    def more() -> None:
        nonlocal data
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no complete response within {timeout} s (got {data[:200]!r})")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"no complete response within {timeout} s (got {data[:200]!r})") from None
        if not chunk:
            raise AssertionError(f"connection closed before the response was complete (got {data[:200]!r})")
        data += chunk

    while b"\r\n\r\n" not in data:
        more()
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(body) < length:
        more()
        body = data.split(b"\r\n\r\n", 1)[1]
    return RawResponse(int(status_line.split(" ")[1]), headers, body[:length] if length else b"")


def wait_closed(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """Read until the server closes the connection (EOF or reset) or `timeout` passes.
    Returns (closed, bytes received before that)."""
    deadline = time.monotonic() + timeout
    received = b""
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


def status_of(raw: bytes) -> int | None:
    """The status code of the first response in `raw`, or None when it holds none."""
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw.split(b" ", 2)[1])


# ---- the server process, from /proc -----------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime: fields 14 and 15


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---- a server shared by a module's tests --------------------------------------------------------------------


def launch(log_dir: Path, env: dict[str, str]) -> ServerProcess:
    """`python -m app.http.serve` on a free loopback port, like conftest's start_server but not tied to one test
    (for module-scoped fixtures). The caller kills it."""
    port = free_port()
    full_env = {**os.environ, "NAMEGEN_HOST": HOST, "NAMEGEN_PORT": str(port), **env}
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            SERVE_COMMAND, cwd=REPO_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ServerProcess(process, port, log_path)
