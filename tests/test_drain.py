"""SIGTERM drains a real server: /readyz turns false, in-flight requests complete, new connections are refused,
and the process ends within seconds; what the graceful timeout cuts off gets a JSON 503."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from rawhttp import read_response
from servers import ServerProcess

from app.http.middleware.observability import SHUTDOWN_DETAIL

pytestmark = pytest.mark.server

TEXTS = ["emma", "olivia", "zxqv", "ava"]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting until {what}")


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def read_http_response(sock: socket.socket) -> tuple[int, dict[str, object]]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1]), json.loads(body)


def test_sigterm_drains_in_flight_requests_and_refuses_new_ones(
    start_server: Callable[..., ServerProcess], client: TestClient
) -> None:
    server = start_server(env={"NAMEGEN_DRAIN_SECONDS": "1.5", "NAMEGEN_GRACEFUL_TIMEOUT_SECONDS": "20"})
    body = json.dumps({"texts": TEXTS}).encode()
    head = (
        "POST /score/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )

    # An in-flight request: headers and half the body sent; the server is waiting for the rest.
    in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    in_flight.sendall(head.encode() + body[: len(body) // 2])
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200  # the server has read it by now

    server.process.send_signal(signal.SIGTERM)

    # Draining: still answering, but no longer ready, so a load balancer stops sending traffic.
    def reports_draining() -> bool:
        response = httpx.get(f"{server.base_url}/readyz", timeout=5)
        return response.status_code == 503 and response.json() == {"status": "draining"}

    wait_for(reports_draining, 5, "/readyz reports draining")
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200

    # Then the listener closes: new connections are refused while the in-flight request is still open.
    wait_for(lambda: refuses_connections(server.port), 15, "new connections are refused")
    assert server.process.poll() is None

    in_flight.sendall(body[len(body) // 2 :])
    status, payload = read_http_response(in_flight)
    in_flight.close()
    assert status == 200
    expected = client.post("/score/batch", json={"texts": TEXTS}).json()
    assert payload == expected

    server.process.wait(timeout=15)
    assert '"draining"' in server.output()


def test_sigterm_with_nothing_in_flight_ends_the_process(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    assert "Finished server process" in server.output()


HEAVY_SAMPLE = b"GET /sample?n=1000&min_length=32&max_length=32&temperature=1000 HTTP/1.1\r\nHost: x\r\n\r\n"


def queued_work(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("namegen_queued_work"))


def test_requests_cut_off_by_the_graceful_timeout_get_a_json_503_with_retry_after(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(env={"NAMEGEN_GRACEFUL_TIMEOUT_SECONDS": "1", "NAMEGEN_WARM_NAMES": "0"})
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(4)]
    for sock in socks:
        sock.sendall(HEAVY_SAMPLE)
    wait_for(lambda: queued_work(server.base_url) > 0, 10, "the heavy samples are being computed")
    server.process.send_signal(signal.SIGTERM)
    answers = []
    for sock in socks:
        with sock:
            answers.append(read_response(sock, timeout=30))
    statuses = [a.status for a in answers]
    assert set(statuses) <= {200, 503}, statuses
    cut = [a for a in answers if a.status == 503]
    assert cut, f"every heavy sample finished within the 1 s graceful timeout: {statuses}"
    for answer in cut:
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["retry-after"] == "1"
        assert answer.json() == {"detail": SHUTDOWN_DETAIL}
    server.process.wait(timeout=15)
