"""The hostile clients of `bench_load.py --hostile` (issues #11, #20): endless headers, silent sockets, huge
batches, abandoned heavy samples, the normalization attack (combining marks in reverse canonical order, which
Unicode normalization sorts in quadratic time) and the fold flood (text that every character of must be folded
into the vocabulary), run against a server while the normal mix runs, with a probe timing small requests and
/healthz and a monitor reading the server's RSS and open file descriptors. Every client is bounded in
connections and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from bench_load import Tally, free_port, load, percentile, resident_kib, start_server
from prometheus_client.parser import text_string_to_metric_families

HEAVY_SAMPLE = "/sample?n=1000&min_length=32&max_length=32&temperature=1000"
HUGE_BATCH = {"texts": ["".join(random.Random(i).choices("abcdefghijklmnopqrstuvwxyz", k=64)) for i in range(1000)]}
HEADER_CHUNK = b"a" * 65536
MIB = 1_048_576  # the shipped body cap


def json_body(payload: object) -> bytes:
    """UTF-8 JSON, the characters as they are (not \\u-escaped): as many of them as the body cap allows."""
    return json.dumps(payload, ensure_ascii=False).encode()


def reordered_marks(chars: int) -> str:
    """Combining marks in reverse canonical order (class 230, then 220): NFC must sort all of them."""
    return "\u0301" * (chars // 2) + "\u0316" * (chars - chars // 2)


# The bodies each attacker posts in turn: the text in one 1 MiB /score, the same in a batch, and a full batch
# of texts at the raw cap (4 × 64 characters, 8 × 64 bytes): the most text the server still reads.
NORMALIZATION_ATTACK = {
    "1 MiB /score": ("/score", json_body({"text": reordered_marks((MIB - 16) // 2)})),
    "1 MiB /score/batch": ("/score/batch", json_body({"texts": [reordered_marks((MIB - 16) // 2)]})),
    "1000 texts at the cap": ("/score/batch", json_body({"texts": [reordered_marks(256)] * 1000})),
}
FOLD_FLOOD = {
    "1 MiB of É /score": ("/score", json_body({"text": "É" * ((MIB - 16) // 2)})),
    "1000 texts at the cap": ("/score/batch", json_body({"texts": ["É" * 256] * 1000})),
}
HEADER_GOAL = 40 * 1024 * 1024  # bytes of header one endless-header connection tries to send
HEADER_PAUSE = 0.05  # seconds between its chunks: about 1.3 MB/s each, slow but never finishing
ABANDON_AFTER = 1.0  # seconds a heavy-sample client waits before it leaves
GRACE = 15.0  # after the run, seconds in-flight requests get to finish before they are cut
MONITOR_INTERVAL = 5.0  # seconds between the server's RSS and FD readings
QUIET_PAUSE = 5.0  # after every client has finished, seconds before the last reading
SILENT_SPREAD = 0.002  # seconds between the silent sockets' first connects
MAX_OPENINGS = 100  # connections one hostile client opens at most in a run (it reopens when the server closes one)


@dataclass
class Hostile:
    """Outcomes of every hostile kind and of the small-request probe, and the server's readings over time."""

    outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> "431", "reset", "closed", ...
    close_seconds: dict[str, list[float]] = field(default_factory=dict)  # kind -> time to the server's close
    opened: Counter[str] = field(default_factory=Counter)
    small: dict[str, list[float]] = field(default_factory=dict)  # small request -> latencies of its answers
    answered: dict[str, list[float]] = field(default_factory=dict)  # attack body -> seconds to any answer
    small_outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    readings: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds into the run, RSS KiB, FDs)

    def count(self, kind: str, outcome: str) -> None:
        self.outcomes.setdefault(kind, Counter())[outcome] += 1

    def closed_after(self, kind: str, seconds: float) -> None:
        self.close_seconds.setdefault(kind, []).append(seconds)

    def statuses(self) -> Counter[str]:
        """Every outcome of every kind and probe, for the 5xx check."""
        total: Counter[str] = Counter()
        for counter in (*self.outcomes.values(), *self.small_outcomes.values()):
            total.update(counter)
        return total


def process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def open_fds(pid: int) -> int:
    """Open file descriptors of a process and its descendants, from /proc/PID/fd."""
    total = 0
    for current in process_tree(pid):
        try:
            total += len(os.listdir(f"/proc/{current}/fd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def status_outcome(data: bytes) -> str:
    """The status code of the response at the start of `data` ("431"), or "garbage"."""
    parts = data.split(b" ", 2)
    if data.startswith(b"HTTP/1.") and len(parts) > 1 and parts[1].isdigit():
        return parts[1].decode()
    return "garbage"


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 2)


async def await_close(reader: asyncio.StreamReader, stop_at: float) -> tuple[str, bytes]:
    """Read until the server closes the connection or the run ends: ("closed" | "reset" | "open at end", data)."""
    data = b""
    while (remaining := stop_at - time.monotonic()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except TimeoutError:
            break
        except (ConnectionResetError, BrokenPipeError):
            return "reset", data
        if not chunk:
            return "closed", data
        data += chunk
    return "open at end", data


async def connections(
    port: int, kind: str, stop_at: float, hostile: Hostile
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A hostile client's connections, one after another (it reopens when one is done): at most MAX_OPENINGS,
    none after the run ends. A failed connect is counted, and the next is tried half a second later."""
    for _ in range(MAX_OPENINGS):
        if time.monotonic() >= stop_at:
            return
        try:
            opened = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        except (OSError, TimeoutError) as exc:
            hostile.count(kind, f"connect {type(exc).__name__}")
            await asyncio.sleep(0.5)
            continue
        hostile.opened[kind] += 1
        yield opened


async def silent_client(port: int, flavour: int, stop_at: float, hostile: Hostile, delay: float) -> None:
    """A connection that sends nothing (0), half a request line (1) or a body short of its Content-Length (2),
    then waits for the server to close it; reopened each time, at most MAX_OPENINGS times."""
    kind, payload = [
        ("silent: nothing", b""),
        ("silent: half a request line", b"GET /sample?n=10 HT"),
        ("silent: short body", b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 100\r\n\r\n{\"text\": "),
    ][flavour]  # fmt: skip
    await asyncio.sleep(delay)
    async for reader, writer in connections(port, kind, stop_at, hostile):
        started = time.monotonic()
        try:
            if payload:
                writer.write(payload)
                await writer.drain()
            how, data = await await_close(reader, stop_at)
        except (ConnectionResetError, BrokenPipeError):
            how, data = "reset", b""
        finally:
            await close_writer(writer)
        hostile.count(kind, f"{status_outcome(data)} then {how}" if data else how)
        if how != "open at end":
            hostile.closed_after(kind, time.monotonic() - started)


async def header_flood_client(port: int, stop_at: float, hostile: Hostile) -> None:
    """A request whose header never ends: 64 KiB more every HEADER_PAUSE s, up to HEADER_GOAL bytes."""
    kind = "endless header"
    async for reader, writer in connections(port, kind, stop_at, hostile):
        answer = asyncio.ensure_future(await_close(reader, stop_at))
        started, sent, outcome = time.monotonic(), 0, "open at end"
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
            while sent < HEADER_GOAL and not answer.done() and time.monotonic() < stop_at:
                writer.write(HEADER_CHUNK)
                try:
                    await asyncio.wait_for(writer.drain(), 10)
                except TimeoutError:
                    outcome = "stalled: not read for 10 s (not accepted yet, or reading paused)"
                    break
                sent += len(HEADER_CHUNK)
                await asyncio.sleep(HEADER_PAUSE)
            if sent >= HEADER_GOAL:
                outcome = f"all {HEADER_GOAL // 2**20} MiB sent, no answer"
        except (ConnectionResetError, BrokenPipeError):
            outcome = "reset while sending"
        if answer.done():
            how, data = answer.result()
            outcome = f"{status_outcome(data)} then {how}" if data else how
            hostile.closed_after(kind, time.monotonic() - started)
        else:
            answer.cancel()
        await close_writer(writer)
        hostile.count(kind, outcome)


async def abandoned_sample_client(port: int, stop_at: float, hostile: Hostile) -> None:
    """The heavy /sample, the client gone after ABANDON_AFTER s unless an answer (a 503, say) came first."""
    kind = "abandoned heavy sample"
    request = f"GET {HEAVY_SAMPLE} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    async for reader, writer in connections(port, kind, stop_at, hostile):
        try:
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.read(65536), ABANDON_AFTER)
            hostile.count(kind, status_outcome(head) if head else "closed")
            if head:
                await asyncio.sleep(ABANDON_AFTER)  # answered at once (a 503): do not spin
        except TimeoutError:
            hostile.count(kind, "abandoned after 1 s")
        except (ConnectionResetError, BrokenPipeError):
            hostile.count(kind, "reset")
        finally:
            await close_writer(writer)


async def text_attack_client(
    client: httpx.AsyncClient, kind: str, bodies: dict[str, tuple[str, bytes]], stop_at: float, hostile: Hostile
) -> None:
    """Post each body in turn until the run ends, recording each answer's status and how long it took."""
    while time.monotonic() < stop_at:
        for label, (path, body) in bodies.items():
            started = time.perf_counter()
            try:
                response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
                outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            hostile.count(f"{kind}: {label}", outcome)
            hostile.answered.setdefault(f"{kind}: {label}", []).append(time.perf_counter() - started)


async def requests_until(
    stop_at: float, call: Callable[[], Awaitable[httpx.Response]], record: Callable[[str, float], None], pause: float
) -> None:
    """Repeat one request until the run ends; record each outcome (status or exception) and its latency."""
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            outcome = str((await call()).status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        record(outcome, time.perf_counter() - started)
        await asyncio.sleep(pause)


async def monitor(pid: int, started: float, stop_at: float, hostile: Hostile) -> None:
    while True:
        hostile.readings.append((time.monotonic() - started, resident_kib(pid), open_fds(pid)))
        if time.monotonic() >= stop_at:
            return
        await asyncio.sleep(min(MONITOR_INTERVAL, max(0.0, stop_at - time.monotonic())))


def outcome_recorder(outcomes: dict[str, Counter[str]], latencies: dict[str, list[float]], label: str
                     ) -> Callable[[str, float], None]:  # fmt: skip
    def record(outcome: str, seconds: float) -> None:
        outcomes.setdefault(label, Counter())[outcome] += 1
        if outcome == "200":
            latencies.setdefault(label, []).append(seconds)

    return record


async def finish(tasks: Sequence[asyncio.Future[None]], stop_at: float, hostile: Hostile) -> None:
    """Wait for the tasks until the run ends plus GRACE, cancel the rest; a task's own crash is raised."""
    done, pending = await asyncio.wait(tasks, timeout=max(0.0, stop_at - time.monotonic()) + GRACE)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()  # a crash of the bench itself surfaces here
    if pending:
        hostile.count("bench", f"{len(pending)} clients cut after the grace period")


async def attack(base_url: str, port: int, stop_at: float, args: argparse.Namespace) -> Hostile:
    """Every hostile kind at once until stop_at (in its own process: its sockets do not slow the probes)."""
    hostile = Hostile()
    limits = httpx.Limits(max_connections=args.batches + 1, max_keepalive_connections=args.batches + 1)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as batch_client:
        record = outcome_recorder(hostile.outcomes, {}, "huge batch")
        tasks = [
            asyncio.ensure_future(
                requests_until(stop_at, lambda: batch_client.post("/score/batch", json=HUGE_BATCH), record, 0)
            )
            for _ in range(args.batches)
        ]
        tasks += [asyncio.ensure_future(header_flood_client(port, stop_at, hostile)) for _ in range(args.header_floods)]
        tasks += [asyncio.ensure_future(abandoned_sample_client(port, stop_at, hostile)) for _ in range(args.abandoned)]
        tasks += [
            asyncio.ensure_future(silent_client(port, index % 3, stop_at, hostile, delay=index * SILENT_SPREAD))
            for index in range(args.silent)
        ]
        text_limits = httpx.Limits(max_connections=args.normalization + args.fold_floods)
        async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=text_limits) as text_client:
            tasks += [
                asyncio.ensure_future(
                    text_attack_client(text_client, "normalization", NORMALIZATION_ATTACK, stop_at, hostile)
                )
                for _ in range(args.normalization)
            ]
            tasks += [
                asyncio.ensure_future(text_attack_client(text_client, "fold flood", FOLD_FLOOD, stop_at, hostile))
                for _ in range(args.fold_floods)
            ]
            await finish(tasks, stop_at, hostile)
    return hostile


async def probe(base_url: str, pid: int, started: float, stop_at: float) -> Hostile:
    """Small requests a few times a second, and the server's RSS and FDs (in its own, mostly idle process, so
    the latencies are the server's, not a busy client's)."""
    hostile = Hostile()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        tasks = [
            asyncio.ensure_future(monitor(pid, started, stop_at, hostile)),
            asyncio.ensure_future(requests_until(
                stop_at, lambda: client.post("/score", json={"text": "emma"}),
                outcome_recorder(hostile.small_outcomes, hostile.small, "POST /score emma"), 0.25)),
            asyncio.ensure_future(requests_until(
                stop_at, lambda: client.get("/sample", params={"n": 10}),
                outcome_recorder(hostile.small_outcomes, hostile.small, "GET /sample?n=10"), 0.25)),
            asyncio.ensure_future(requests_until(
                stop_at, lambda: client.get("/healthz"),
                outcome_recorder(hostile.small_outcomes, hostile.small, "GET /healthz"), 0.25)),
        ]  # fmt: skip
        await finish(tasks, stop_at, hostile)
    return hostile


def child_main(role: Callable[..., Coroutine[Any, Any, Hostile]], conn: Connection, *role_args: object) -> None:
    """A child process: run one role and send back what it saw (or the error that crashed it)."""
    try:
        conn.send(asyncio.run(role(*role_args)))
    except BaseException as exc:
        conn.send(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        conn.close()


def merge(parts: list[Hostile]) -> Hostile:
    merged = Hostile()
    for part in parts:
        for kind, counter in part.outcomes.items():
            merged.outcomes.setdefault(kind, Counter()).update(counter)
        for kind, counter in part.small_outcomes.items():
            merged.small_outcomes.setdefault(kind, Counter()).update(counter)
        for kind, values in part.close_seconds.items():
            merged.close_seconds.setdefault(kind, []).extend(values)
        for kind, values in part.small.items():
            merged.small.setdefault(kind, []).extend(values)
        for kind, values in part.answered.items():
            merged.answered.setdefault(kind, []).extend(values)
        merged.opened.update(part.opened)
        merged.readings += part.readings
    return merged


SERVER_COUNTERS = ("namegen_connections_refused", "namegen_requests_rejected_busy", "namegen_requests_abandoned")


def server_counters(base_url: str) -> str:
    """What the server itself counted of the attack (its /metrics), or why that could not be read."""
    try:
        text = httpx.get(f"{base_url}/metrics", timeout=30).text
    except httpx.HTTPError as exc:
        return f"/metrics unreadable: {type(exc).__name__}"
    parts = []
    for family in text_string_to_metric_families(text):
        if family.name in SERVER_COUNTERS:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = ",".join(f"{k}={v}" for k, v in sample.labels.items())
                    parts.append(f"{family.name}{'{' + labels + '}' if labels else ''} {sample.value:.0f}")
    return "  ".join(parts) or "none of " + ", ".join(SERVER_COUNTERS)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE toward `wanted` (within the hard limit); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def latency_line(values: list[float]) -> str:
    if not values:
        return "no answers"
    return (f"p50 {percentile(values, 0.5) * 1000:.0f} ms  p99 {percentile(values, 0.99) * 1000:.0f} ms  "
            f"max {max(values) * 1000:.0f} ms")  # fmt: skip


def print_hostile(hostile: Hostile, calm: Hostile, args: argparse.Namespace) -> None:
    print(f"hostile      {args.header_floods} endless headers, {args.silent} silent sockets, {args.batches} huge "
          f"batch clients, {args.abandoned} abandoned heavy samples, {args.normalization} normalization attackers, "
          f"{args.fold_floods} fold floods, all at once")  # fmt: skip
    for kind in sorted(hostile.outcomes):
        outcomes = ", ".join(f"{outcome} ×{n}" for outcome, n in hostile.outcomes[kind].most_common())
        opened = f"{hostile.opened[kind]} connections; " if hostile.opened[kind] else ""
        closes = hostile.close_seconds.get(kind, [])
        closed = f"; closed by the server after p50 {percentile(closes, 0.5):.1f} s" if closes else ""
        answers = hostile.answered.get(kind, [])
        answered = f"; answered in {latency_line(answers)}" if answers else ""
        print(f"  {kind:<30} {opened}{outcomes}{closed}{answered}")
    for label in ("POST /score emma", "GET /sample?n=10", "GET /healthz"):
        outcomes = ", ".join(f"{o} ×{n}" for o, n in hostile.small_outcomes.get(label, Counter()).most_common())
        attacked, before = hostile.small.get(label, []), calm.small.get(label, [])
        ratios = ""
        if attacked and before:
            ratios = (f"; {percentile(attacked, 0.5) / percentile(before, 0.5):.1f}× and "
                      f"{percentile(attacked, 0.99) / percentile(before, 0.99):.1f}× the mix alone's")  # fmt: skip
        print(f"small        {label:<18} {latency_line(attacked)}  ({outcomes}){ratios}")
        print(f"  mix alone  {label:<18} {latency_line(before)}  ({args.calm:.0f} s before the attack)")
    print("server RSS   " + "  ".join(f"{t:.0f}s {kib / 1024:.0f}" for t, kib, _ in hostile.readings) + " MiB"
          f"  (last reading: {QUIET_PAUSE:.0f} s after every client finished)")  # fmt: skip
    print("server FDs   " + "  ".join(f"{t:.0f}s {fds}" for t, _, fds in hostile.readings))


def server_errors(kinds: Counter[str]) -> dict[str, int]:
    """Outcomes that are a 5xx other than 503 (the only failure hostile mode reports)."""
    return {k: n for k, n in kinds.items() if any(p.startswith("5") and p != "503" and p.isdigit() for p in k.split())}


Role = tuple[Callable[..., Coroutine[Any, Any, Hostile]], tuple[Any, ...]]  # a child's coroutine and its arguments


def in_children(
    roles: list[Role], base_url: str, connections: int, seconds: float, tally: Tally
) -> tuple[list[Hostile], list[str]]:
    """Run each role in a forked child while the normal mix runs here for `seconds`; what each child saw, and
    what went wrong with any."""
    stop_at = time.monotonic() + seconds
    context = multiprocessing.get_context("fork")  # forked before any event loop runs here
    children = []
    for role, role_args in roles:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=child_main, args=(role, sender, *role_args), daemon=True)
        process.start()
        sender.close()
        children.append((role.__name__, process, receiver))
    asyncio.run(load(base_url, connections, seconds, tally))  # the normal mix, in this process
    parts: list[Hostile] = []
    problems: list[str] = []
    for name, process, receiver in children:
        if receiver.poll(max(0.0, stop_at - time.monotonic()) + GRACE + 15):
            result = receiver.recv()
            if isinstance(result, Hostile):
                parts.append(result)
            else:
                problems.append(f"{name} crashed: {result}")
        else:
            problems.append(f"{name} did not finish")
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
    return parts, problems


def run_hostile(args: argparse.Namespace) -> int:
    others = args.header_floods + args.abandoned + args.batches + args.connections + 1024  # + files, pipes, probes
    soft = raise_fd_limit(args.silent + others)
    if args.silent + others > soft:
        print(f"note: the file descriptor limit is {soft}: {max(0, soft - others)} silent sockets, not {args.silent}")
        args.silent = max(0, soft - others)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.workers)
    tally = Tally()
    try:
        asyncio.run(load(base_url, args.connections, args.warmup, Tally()))
        # The baseline: the probe under the normal mix alone, for the ratios printed beside the attack's figures.
        calm_at = time.monotonic()
        calm: list[Role] = [(probe, (base_url, server.pid, calm_at, calm_at + args.calm))]
        calm_parts, problems = in_children(calm, base_url, args.connections, args.calm, Tally())
        started = time.monotonic()  # CLOCK_MONOTONIC: the same clock in the child processes
        stop_at = started + args.seconds
        roles: list[Role] = [
            (attack, (base_url, port, stop_at, args)),
            (probe, (base_url, server.pid, started, stop_at)),
        ]
        parts, attack_problems = in_children(roles, base_url, args.connections, args.seconds, tally)
        problems += attack_problems
        elapsed = time.monotonic() - started
        alive = server.poll() is None
        counted = server_counters(base_url) if alive else "(server gone)"
        time.sleep(QUIET_PAUSE)  # every client gone: does the memory come back?
        quiet = (time.monotonic() - started, resident_kib(server.pid), open_fds(server.pid)) if alive else None
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    hostile = merge(parts)
    hostile.readings.sort()
    if quiet is not None:
        hostile.readings.append(quiet)
    requests = len(tally.latencies)
    print(f"load: {args.connections} connections for {args.seconds:.0f} s against {args.workers} worker(s) on "
          f"127.0.0.1, under attack ({elapsed:.1f} s with answers in flight)")  # fmt: skip
    print(f"requests     {requests}  ({', '.join(f'{k} {v}' for k, v in sorted(tally.by_route.items()))})")
    print(f"throughput   {requests / elapsed:.1f} req/s")
    if tally.latencies:
        print(f"latency      {latency_line(tally.latencies)}")
    kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(tally.error_kinds.items()))
    print(f"errors       {tally.errors}{'  ' + kinds if kinds else ''}")
    print_hostile(hostile, merge(calm_parts), args)
    bad = server_errors(Counter(tally.error_kinds) + hostile.statuses())
    print(f"server says  {counted}")
    print(f"server       {'alive' if alive else 'DIED'} at the end")
    failed = bool(bad) or not alive or bool(problems)
    verdict = "PASS (no 5xx but 503)"
    if failed:
        verdict = "FAIL: " + "; ".join([*problems, *([f"5xx other than 503: {bad}"] if bad else []),
                                         *([] if alive else ["the server died"])])  # fmt: skip
    print("RESULT       " + verdict)
    return 1 if failed else 0
