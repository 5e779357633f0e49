"""The request path is bounded end to end (issue #11): every edge a hostile client on loopback found, against a
real `python -m app.http.serve` with short timeouts set through the NAMEGEN_ settings.

Four servers, each shared by the tests that need its settings and started together (they load while the first
tests run): `short` (1 s timeouts, an 8 KiB head limit), `capped` (4 connections), `tight` (a compute queue
with room for one heavy batch and small requests, not two heavy batches) and `plain` (the shipped work bounds,
for heavy requests). No assertion is on speed: every wait has a deadline with several seconds of slack, so a
loaded machine passes and a server that never acts fails.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import string
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rawhttp import (
    RawResponse,
    connect,
    cpu_seconds,
    launch,
    read_response,
    request_head,
    rss_kib,
    status_of,
    wait_closed,
)
from servers import ServerProcess

pytestmark = pytest.mark.server

KEEP_ALIVE = 1.0
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
SLACK = 5.0  # added to every timeout the server must enforce: generous on two busy cores
HEADER_LIMIT = 8192
CAP = 4
SMALL_BOUND = 5.0  # a small request answers within this while heavy work runs (a bound, not a speed target)

COMMON = {"NAMEGEN_WARM_NAMES": "0", "NAMEGEN_LOG_LEVEL": "warning"}
SETTINGS = {
    "short": {
        "NAMEGEN_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
        "NAMEGEN_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "NAMEGEN_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "NAMEGEN_MAX_HEADER_BYTES": str(HEADER_LIMIT),
    },
    "capped": {
        "NAMEGEN_MAX_CONNECTIONS": str(CAP),
        "NAMEGEN_KEEP_ALIVE_SECONDS": "30",
        "NAMEGEN_HEADER_TIMEOUT_SECONDS": "30",
    },
    "tight": {"NAMEGEN_MAX_QUEUED_WORK": "25000"},  # one BURST_BATCH (16,250 contexts) and small requests fit
    "plain": {},
}

HEAVY_SAMPLE = "/sample?n=1000&min_length=32&max_length=32&temperature=1000"
HEAVY_TEXTS = ["".join(random.Random(i).choices(string.ascii_lowercase, k=64)) for i in range(1000)]
HEAVY_BATCH = json.dumps({"texts": HEAVY_TEXTS}).encode()  # 65,000 contexts of work (a text is its length + 1)
BURST_BATCH = json.dumps({"texts": HEAVY_TEXTS[:250]}).encode()  # 16,250 contexts: heavy against `tight`
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}
# Methods the HTTP parser accepts but the service does not serve: each used to become its own metrics label.
UNSERVED_METHODS = ["PURGE", "PROPFIND", "MKCOL", "LINK", "UNLOCK"]


# ---- servers ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    """All four servers, launched at once; each fixture below waits for its own."""
    log_dir = tmp_path_factory.mktemp("edges")
    servers: dict[str, ServerProcess] = {}
    try:
        for name, env in SETTINGS.items():
            servers[name] = launch(log_dir, {**COMMON, **env})
        yield servers
    finally:
        for server in servers.values():
            server.kill()


def ready(fleet: dict[str, ServerProcess], name: str) -> ServerProcess:
    server = fleet[name]
    server.wait_ready(timeout=90)
    return server


@pytest.fixture(scope="module")
def short(fleet: dict[str, ServerProcess]) -> ServerProcess:
    return ready(fleet, "short")


@pytest.fixture(scope="module")
def capped(fleet: dict[str, ServerProcess]) -> ServerProcess:
    return ready(fleet, "capped")


@pytest.fixture(scope="module")
def tight(fleet: dict[str, ServerProcess]) -> ServerProcess:
    return ready(fleet, "tight")


@pytest.fixture(scope="module")
def plain(fleet: dict[str, ServerProcess]) -> ServerProcess:
    server = ready(fleet, "plain")
    httpx.get(f"{server.base_url}/sample", params={"n": 10}, timeout=30)  # the small requests' contexts, cached
    return server


# ---- helpers --------------------------------------------------------------------------------------------------


def assert_closed_with(sock: socket.socket, within: float, allowed: set[int | None]) -> None:
    """The server closes `sock` within `within` s, having sent nothing (None) or one response of an allowed status."""
    closed, received = wait_closed(sock, within)
    assert closed, f"connection still open after {within} s (received {received[:120]!r})"
    assert (status_of(received) if received else None) in allowed, f"received {received[:200]!r}"


@contextlib.contextmanager
def silent_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that send nothing, held open for the block (accepted by the time it starts)."""
    time.sleep(0.3)  # the server sees earlier tests' connections close before these count against its cap
    socks = [connect(port) for _ in range(count)]
    try:
        time.sleep(0.5)  # the server accepts them in order; let it get to all of them
        yield socks
    finally:
        for sock in socks:
            sock.close()


def send_raw(port: int, data: bytes) -> socket.socket:
    sock = connect(port)
    sock.sendall(data)
    return sock


def batch_request(body: bytes = HEAVY_BATCH) -> bytes:
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    return request_head("POST", "/score/batch", headers) + body


def nothing_received_yet(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # data, or b"" for a close: either way the server answered
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def cpu_goes_quiet(pid: int, within: float, window: float = 1.0, busy: float = 0.2) -> tuple[bool, list[float]]:
    """Whether, within `within` s, the process spends less than `busy` of a core over some `window` s.
    Returns that and the CPU seconds read every `window` s (for the failure message)."""
    readings = [cpu_seconds(pid)]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        time.sleep(window)
        readings.append(cpu_seconds(pid))
        if readings[-1] - readings[-2] < busy * window:
            return True, readings
    return False, readings


def small_requests(base_url: str) -> dict[str, tuple[int, float]]:
    """/score emma and /sample?n=10, each on a fresh connection: status and seconds to the answer."""
    answers = {}
    for label, call in {
        "POST /score emma": lambda: httpx.post(f"{base_url}/score", json={"text": "emma"}, timeout=SMALL_BOUND),
        "GET /sample?n=10": lambda: httpx.get(f"{base_url}/sample", params={"n": 10}, timeout=SMALL_BOUND),
    }.items():
        started = time.monotonic()
        try:
            answers[label] = (call().status_code, time.monotonic() - started)
        except httpx.TimeoutException:
            answers[label] = (0, time.monotonic() - started)  # 0: no answer within the bound
    return answers


def counter_value(base_url: str, name: str) -> float:
    """A label-less counter's value on /metrics (0 when absent)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return 0.0


def method_labels(base_url: str) -> dict[str, float]:
    """namegen_http_requests_total summed by its method label."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "namegen_http_requests_total":
                method = sample.labels["method"]
                totals[method] = totals.get(method, 0.0) + sample.value
    return totals


# ---- the head: size and time -----------------------------------------------------------------------------------


def test_head_within_the_header_limit_is_served(short: ServerProcess) -> None:
    sock = send_raw(short.port, request_head("GET", "/healthz", {"X-Pad": "a" * (HEADER_LIMIT - 200)}))
    with sock:
        assert read_response(sock).status == 200


def test_head_over_the_header_limit_gets_431_json_and_the_connection_closed(short: ServerProcess) -> None:
    unfinished = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (2 * HEADER_LIMIT)  # no end
    with send_raw(short.port, unfinished) as sock:
        response = read_response(sock, timeout=SLACK)
        assert response.status == 431
        assert isinstance(response.json()["detail"], str)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert_closed_with(sock, SLACK, {None})


def head_of_size(size: int) -> bytes:
    """A complete GET /healthz head of exactly `size` bytes, its final blank line included."""
    bare = request_head("GET", "/healthz", {"X-Pad": ""})
    return request_head("GET", "/healthz", {"X-Pad": "a" * (size - len(bare))})


def test_a_head_of_exactly_the_limit_in_one_write_is_served_and_one_byte_more_is_431(short: ServerProcess) -> None:
    with send_raw(short.port, head_of_size(HEADER_LIMIT)) as sock:
        assert read_response(sock, timeout=SLACK).status == 200
    with send_raw(short.port, head_of_size(HEADER_LIMIT + 1)) as sock:
        assert read_response(sock, timeout=SLACK).status == 431


@pytest.mark.parametrize("size", [20_000, 60_000])
def test_a_complete_head_over_the_limit_in_one_write_gets_431_and_the_connection_closed(
    plain: ServerProcess, size: int
) -> None:
    """The shipped 16 KiB limit holds however the head arrives, here in one write (one read on loopback)."""
    with send_raw(plain.port, head_of_size(size)) as sock:
        response = read_response(sock, timeout=SLACK)
        assert response.status == 431
        assert response.json() == {"detail": "request head is larger than the 16384-byte limit"}
        assert_closed_with(sock, SLACK, {None})


def test_a_huge_head_pipelined_behind_a_small_request_in_one_write_gets_431(short: ServerProcess) -> None:
    with send_raw(short.port, request_head("GET", "/healthz") + head_of_size(4 * HEADER_LIMIT)) as sock:
        closed, received = wait_closed(sock, SLACK)
    assert closed
    assert b"HTTP/1.1 431 " in received, received[:300]


def test_bytes_that_are_not_http_get_400_json_and_the_connection_closed(short: ServerProcess) -> None:
    with send_raw(short.port, b"\x16\x03\x01 not http at all\r\n\r\n") as sock:
        response = read_response(sock, timeout=SLACK)
        assert (response.status, response.headers["content-type"]) == (400, "application/json")
        assert response.json() == {"detail": "invalid HTTP request: it could not be parsed"}
        assert response.headers["x-content-type-options"] == "nosniff"
        assert_closed_with(sock, SLACK, {None})


def test_huge_heads_that_never_end_do_not_grow_server_memory(short: ServerProcess) -> None:
    connections, per_connection, chunk = 12, 8 * 1024 * 1024, b"a" * 65536
    pid = short.process.pid
    before = rss_kib(pid)
    socks = [connect(short.port, timeout=3) for _ in range(connections)]

    def flood(sock: socket.socket) -> int:
        sent = 0
        deadline = time.monotonic() + 15
        with contextlib.suppress(OSError):  # reset, broken pipe or a full window: the server stopped reading
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            while sent < per_connection and time.monotonic() < deadline:
                sock.sendall(chunk)
                sent += len(chunk)
        return sent

    try:
        with ThreadPoolExecutor(connections) as pool:
            attempted = connections * per_connection
            accepted = sum(pool.map(flood, socks))
        time.sleep(0.5)
        growth_kib = rss_kib(pid) - before  # measured with the connections still open, as an attacker keeps them
    finally:
        for sock in socks:
            sock.close()
    assert growth_kib < 16 * 1024, (
        f"server RSS grew by {growth_kib / 1024:.0f} MiB while clients sent {accepted / 2**20:.0f} MiB of header "
        f"(of {attempted / 2**20:.0f} MiB attempted)"
    )


def test_silent_connection_is_closed_after_the_keep_alive_timeout(short: ServerProcess) -> None:
    with connect(short.port) as sock:
        assert_closed_with(sock, KEEP_ALIVE + SLACK, {None, 408})


def test_idle_keep_alive_connection_is_closed_after_its_response(short: ServerProcess) -> None:
    with send_raw(short.port, request_head("GET", "/healthz")) as sock:
        assert read_response(sock).status == 200
        assert_closed_with(sock, KEEP_ALIVE + SLACK, {None})


def test_keep_alive_connection_is_reused_before_its_timeout(plain: ServerProcess) -> None:
    with send_raw(plain.port, request_head("GET", "/healthz")) as sock:
        assert read_response(sock).status == 200
        time.sleep(0.5)  # well inside the shipped 20 s keep-alive
        sock.sendall(request_head("GET", "/readyz"))
        assert read_response(sock).status == 200


def test_half_a_request_line_is_closed_after_the_header_timeout(short: ServerProcess) -> None:
    with send_raw(short.port, b"GET /healthz HT") as sock:
        assert_closed_with(sock, HEADER_TIMEOUT + SLACK, {None, 408})


def test_a_head_trickled_byte_by_byte_is_closed_after_the_header_timeout(short: ServerProcess) -> None:
    """The header timeout runs from the request's first byte: bytes that keep coming do not extend it."""
    trickle = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200
    deadline = time.monotonic() + HEADER_TIMEOUT + SLACK
    closed, received = False, b""
    with connect(short.port) as sock:
        for byte in trickle:
            if time.monotonic() > deadline:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            closed, got = wait_closed(sock, 0.1)
            received += got
            if closed:
                break
    assert closed, f"a head still arriving after {HEADER_TIMEOUT + SLACK} s was not cut off"
    assert (status_of(received) if received else None) in {None, 408}, received[:200]


def test_body_shorter_than_its_content_length_gets_408_after_the_body_timeout(short: ServerProcess) -> None:
    head = request_head("POST", "/score", {"Content-Type": "application/json", "Content-Length": "100"})
    with send_raw(short.port, head + b'{"text": ') as sock:
        assert read_response(sock, timeout=BODY_TIMEOUT + SLACK).status == 408
        assert_closed_with(sock, SLACK, {None})


# ---- connections -------------------------------------------------------------------------------------------------


def test_connection_beyond_the_cap_gets_503_with_retry_after_and_is_closed(capped: ServerProcess) -> None:
    with silent_connections(capped.port, CAP), connect(capped.port) as extra:
        closed, received = wait_closed(extra, 2.0)  # refused at once, or when it sends its request
        if not closed and not received:
            extra.sendall(request_head("GET", "/healthz"))
            closed, received = wait_closed(extra, SLACK)
    assert status_of(received) == 503, received[:200]
    assert b"\r\nretry-after:" in received.lower()
    assert closed


def test_connections_within_the_cap_are_served_while_it_is_full(capped: ServerProcess) -> None:
    with silent_connections(capped.port, CAP) as socks, connect(capped.port):
        socks[0].sendall(request_head("GET", "/healthz"))
        assert read_response(socks[0], timeout=SLACK).status == 200


def test_new_connections_are_served_once_held_ones_close(capped: ServerProcess) -> None:
    with silent_connections(capped.port, CAP):
        pass
    deadline = time.monotonic() + SLACK
    status = 0
    while time.monotonic() < deadline and status != 200:
        with contextlib.suppress(httpx.TransportError):
            status = httpx.get(f"{capped.base_url}/healthz", timeout=SLACK).status_code
        time.sleep(0.1)
    assert status == 200


# ---- methods and paths -------------------------------------------------------------------------------------------


VOLATILE_HEADERS = {"date", "x-request-id"}


@pytest.mark.parametrize("target", ["/healthz", "/readyz", "/model", "/sample?n=1&seed=1"])
def test_head_mirrors_get_status_and_headers_with_no_body(short: ServerProcess, target: str) -> None:
    got = httpx.get(f"{short.base_url}{target}", timeout=10)
    with send_raw(short.port, request_head("HEAD", target)) as sock:
        head = read_response(sock, head_only=True)
        assert head.status == got.status_code
        assert {k: v for k, v in head.headers.items() if k not in VOLATILE_HEADERS} == {
            k: v for k, v in got.headers.items() if k not in VOLATILE_HEADERS
        }
        assert wait_closed(sock, 0.3)[1] == b""  # no body follows the head


@pytest.mark.parametrize("path", ["/healthz/", "/model/", "/sample/"])
def test_trailing_slash_is_404_without_a_redirect_to_the_host_header(short: ServerProcess, path: str) -> None:
    response = httpx.get(f"{short.base_url}{path}", headers={"Host": "evil.example"}, timeout=10)
    assert response.status_code == 404
    assert "location" not in response.headers


def test_unserved_methods_get_405(short: ServerProcess) -> None:
    statuses = {m: httpx.request(m, f"{short.base_url}/healthz", timeout=10).status_code for m in UNSERVED_METHODS}
    assert statuses == dict.fromkeys(UNSERVED_METHODS, 405)


def test_unserved_methods_share_one_metrics_method_label(short: ServerProcess) -> None:
    for method in UNSERVED_METHODS:
        httpx.request(method, f"{short.base_url}/sample", timeout=10)
    labels = method_labels(short.base_url)
    assert not set(UNSERVED_METHODS) & set(labels), labels
    others = set(labels) - KNOWN_METHODS
    assert len(others) == 1, labels
    assert labels[others.pop()] >= len(UNSERVED_METHODS)


# ---- what /sample returns ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "holds"),
    [
        ("n=3&min_length=20&temperature=1e-308&seed=1", lambda name: len(name) >= 20),
        ("n=3&min_length=20&temperature=1e6&seed=1", lambda name: len(name) >= 20),
        ("n=3&max_length=3&temperature=1e-308&seed=1", lambda name: len(name) <= 3),
        ("n=3&max_length=3&temperature=1e6&seed=1", lambda name: len(name) <= 3),
        ("n=3&prefix=zz&temperature=1e-308&seed=1", lambda name: name.startswith("zz")),
        ("n=3&prefix=zz&temperature=1e6&seed=1", lambda name: name.startswith("zz")),
    ],
    ids=["min-tiny-t", "min-huge-t", "max-tiny-t", "max-huge-t", "prefix-tiny-t", "prefix-huge-t"],
)
def test_length_and_prefix_constraints_hold_at_extreme_temperatures(
    short: ServerProcess, query: str, holds: Callable[[str], bool]
) -> None:
    response = httpx.get(f"{short.base_url}/sample?{query}", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert [name for name in body["names"] if not holds(name)] == []
    assert body["returned"] == len(body["names"])
    if body["returned"] < body["requested"]:
        assert body["complete"] is False
        assert body["message"]
    else:
        assert body["complete"] is True


BAD_INPUTS = [
    ("GET", "/sample?n=0", None, ["query", "n"]),
    ("GET", "/sample?n=abc", None, ["query", "n"]),
    ("GET", "/sample?n=100000", None, ["query", "n"]),
    ("GET", "/sample?n=1&n=2", None, ["query", "n"]),
    ("GET", "/sample?temperature=0", None, ["query", "temperature"]),
    ("GET", "/sample?temperature=nan", None, ["query", "temperature"]),
    ("GET", "/sample?prefix=%3F%21", None, ["query", "prefix"]),
    ("GET", "/sample?max_length=99", None, ["query", "max_length"]),
    ("GET", "/sample?min_length=5&max_length=2", None, ["query"]),
    ("GET", "/sample?bogus=1", None, ["query", "bogus"]),
    ("POST", "/score", b'{"text": ""}', ["body", "text"]),
    ("POST", "/score", b'{"text": "emma!"}', ["body", "text"]),
    ("POST", "/score", json.dumps({"text": "a" * 65}).encode(), ["body", "text"]),
    ("POST", "/score", b'{"txt": "emma"}', ["body", "text"]),
    ("POST", "/score", b"{not json", ["body"]),
    ("POST", "/score", b"", ["body"]),
    ("POST", "/score/batch", b'{"texts": []}', ["body", "texts"]),
    ("POST", "/score/batch", b'{"texts": ["emma", "?!"]}', ["body", "texts"]),
    ("POST", "/score/batch", json.dumps({"texts": ["ab"] * 1001}).encode(), ["body", "texts"]),
]


@pytest.mark.parametrize(
    ("method", "target", "body", "loc"), BAD_INPUTS, ids=[f"{m} {t} {(b or b'')[:20]!r}" for m, t, b, _ in BAD_INPUTS]
)
def test_every_bad_input_gets_the_one_422_shape(
    short: ServerProcess, method: str, target: str, body: bytes | None, loc: list[str]
) -> None:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    response = httpx.request(method, f"{short.base_url}{target}", content=body, headers=headers, timeout=10)
    assert response.status_code == 422
    payload = response.json()
    assert list(payload) == ["detail"]
    problems = payload["detail"]
    assert isinstance(problems, list) and problems, payload
    for problem in problems:
        assert set(problem) == {"loc", "msg", "type"}, problem
        assert isinstance(problem["loc"], list) and problem["loc"][0] in ("query", "body"), problem
        assert all(isinstance(part, str | int) for part in problem["loc"]), problem
        assert isinstance(problem["msg"], str) and problem["msg"], problem
        assert isinstance(problem["type"], str) and problem["type"], problem
    assert any(problem["loc"][: len(loc)] == loc for problem in problems), problems


# ---- admission: a bounded compute queue --------------------------------------------------------------------------


@dataclass
class Burst:
    heavy: list[RawResponse | str]  # a response, or what went wrong on the connection
    small_status: int
    small_seconds: float
    small_retry_after: str | None


@pytest.fixture(scope="module")
def burst(tight: ServerProcess) -> Burst:
    """Six heavy /score/batch requests at once against the `tight` queue bound, and one small /score among them."""

    def heavy(_: int) -> RawResponse | str:
        try:
            with send_raw(tight.port, batch_request(BURST_BATCH)) as sock:
                return read_response(sock, timeout=60)
        except (AssertionError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(6) as pool:
        pending = [pool.submit(heavy, i) for i in range(6)]
        time.sleep(0.5)
        started = time.monotonic()
        try:
            small = httpx.post(f"{tight.base_url}/score", json={"text": "emma"}, timeout=SMALL_BOUND)
            status, retry_after = small.status_code, small.headers.get("retry-after")
        except httpx.TimeoutException:
            status, retry_after = 0, None
        seconds = time.monotonic() - started
        return Burst([future.result() for future in pending], status, seconds, retry_after)


def test_heavy_batches_past_the_queue_bound_get_503_with_retry_after(burst: Burst) -> None:
    refused = [r for r in burst.heavy if isinstance(r, RawResponse) and r.status == 503]
    assert refused, [r if isinstance(r, str) else r.status for r in burst.heavy]
    for response in refused:
        assert "retry-after" in response.headers
        assert isinstance(response.json()["detail"], str)


def test_heavy_batch_burst_is_answered_with_200_or_503_only(burst: Burst) -> None:
    outcomes = [r if isinstance(r, str) else r.status for r in burst.heavy]
    assert set(outcomes) <= {200, 503}, outcomes


def test_a_heavy_batch_is_admitted_when_the_queue_has_room(burst: Burst) -> None:
    outcomes = [r if isinstance(r, str) else r.status for r in burst.heavy]
    assert 200 in outcomes, outcomes


def test_small_score_is_admitted_and_answered_during_a_heavy_batch_burst(burst: Burst) -> None:
    assert burst.small_status == 200, (
        f"/score emma: {burst.small_status or 'no answer'} after {burst.small_seconds:.1f} s "
        f"(Retry-After: {burst.small_retry_after})"
    )


# ---- fairness and cancellation under heavy work ------------------------------------------------------------------


@contextlib.contextmanager
def heavy_samples(port: int, count: int = 4) -> Iterator[list[socket.socket]]:
    """`count` heavy /sample requests in flight for the block; their clients disconnect when it ends."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(send_raw(port, request_head("GET", HEAVY_SAMPLE)))
        time.sleep(1.0)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def test_small_requests_answer_while_heavy_samples_run(plain: ServerProcess) -> None:
    with heavy_samples(plain.port) as socks:
        answers = small_requests(plain.base_url)
        still_running = sum(nothing_received_yet(sock) for sock in socks)
    assert still_running > 0, "the heavy samples were all answered already: nothing to be fair against"
    assert {label: status for label, (status, _) in answers.items()} == dict.fromkeys(answers, 200), answers


def test_heavy_samples_stop_computing_when_their_clients_disconnect(plain: ServerProcess) -> None:
    pid = plain.process.pid
    quiet, readings = cpu_goes_quiet(pid, within=15)
    assert quiet, f"server still busy before the test (earlier work not stopped): CPU s {readings}"
    before = cpu_seconds(pid)
    with heavy_samples(plain.port):
        pass  # a second of heavy sampling, then every client disconnects
    worked = cpu_seconds(pid) - before
    assert worked > 0.3, f"the heavy samples used only {worked:.2f} CPU s: nothing was running to stop"
    quiet, readings = cpu_goes_quiet(pid, within=SLACK)
    assert quiet, f"CPU seconds every 1 s after the clients left: {readings}"


def test_disconnected_heavy_samples_are_counted_as_abandoned(plain: ServerProcess) -> None:
    before = counter_value(plain.base_url, "namegen_requests_abandoned_total")
    with heavy_samples(plain.port, count=2):
        pass
    deadline = time.monotonic() + SLACK
    while (after := counter_value(plain.base_url, "namegen_requests_abandoned_total")) < before + 2:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert after - before >= 2, f"namegen_requests_abandoned_total went {before} -> {after}"


def test_small_score_answers_while_heavy_batches_run(plain: ServerProcess) -> None:
    socks: list[socket.socket] = []
    try:
        for _ in range(4):
            socks.append(send_raw(plain.port, batch_request()))
        time.sleep(0.5)
        started = time.monotonic()
        try:
            status = httpx.post(f"{plain.base_url}/score", json={"text": "emma"}, timeout=SMALL_BOUND).status_code
        except httpx.TimeoutException:
            status = 0
        seconds = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
    assert status == 200, f"/score emma: status {status} after {seconds:.1f} s (0: no answer within the bound)"
