"""Where a request's time goes, by thread: each thread's CPU milliseconds per request, before and after a change.

Serves this tree (and, with --before REV, that revision too: revisions.py), 1 worker, the same settings, and loads
each path (default: random-seed GET /sample?n=10 and /healthz) with wrk, 32 connections, the servers taking turns:
- CPU per request by thread: each thread's time on a CPU over a load window (/proc/PID/task/TID/schedstat),
  divided by the requests wrk completed in it; median over --rounds windows. Threads are named by their Python
  names (`py-spy dump`), numbered pool threads together; threads that run no Python (torch's) together as
  "no Python frames";
- with py-spy, in windows of the same load of their own (so its reads do not enter the CPU figures):
  the share of each thread's active samples (`py-spy record --threads --nonblocking`: stopping the process for
  each sample would land every sample on a system call; idle samples are not recorded); the event loop's time by
  where its innermost frame's code lives and its top functions, by self samples and, for app/ code, inclusive
  (over the stacks py-spy read whole), each as microseconds per request (its share of the loop's samples x the
  loop's CPU per request: an estimate); and the share of the wall time each thread holds the GIL (`--gil`: the
  holder's samples / (rate x seconds); near 100% in all, the process goes only as fast as its Python runs on one
  thread at a time). A thread holds the GIL also while the kernel has it waiting for a core, so on a busy
  machine its GIL time may exceed its CPU time.
py-spy is in the dev extras; without it the CPU table still prints, its threads unnamed. Figures only, no
assertions. Run: .venv/bin/python benchmarks/bench_request_cost.py [--before 1a6c0c8] [--paths /sample?n=10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench_http import CONNECTIONS, Served, ensure_wrk, run_python_load, run_wrk, start_servers

NO_PYTHON = "no Python frames"
UNNAMED = "other threads"  # without py-spy only the main thread is known by name
EVENT_LOOP = "MainThread"  # uvicorn runs the event loop on the main thread
SPY_RATE = 250  # samples per second per thread
ENTRY_FRAMES = ("_run_module_as_main ", "<module> ")  # the outermost frame of `python -m ...`
STDLIB_PACKAGES = ("asyncio/", "concurrent/", "json/", "email/", "http/", "logging/", "urllib/", "importlib/")


@dataclass
class Cost:
    """One server under one path's load: CPU ms per request by thread name, per window."""

    windows: list[dict[str, float]] = field(default_factory=list)
    requests_per_second: list[float] = field(default_factory=list)
    threads: Counter[str] = field(default_factory=Counter)
    samples: Counter[str] = field(default_factory=Counter)  # py-spy's active samples by thread name
    loop_self: Counter[str] = field(default_factory=Counter)  # the event loop's samples by innermost function
    loop_inclusive: Counter[str] = field(default_factory=Counter)  # ... by app/ function anywhere on the stack
    loop_whole: int = 0  # the event loop's samples whose stack py-spy read whole
    gil_share: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # of the wall time

    def median_ms(self, name: str) -> float:
        return statistics.median(window.get(name, 0.0) for window in self.windows)

    def total_ms(self) -> list[float]:
        return [sum(window.values()) for window in self.windows]


def py_spy() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def thread_times(pid: int) -> dict[int, int]:
    """Nanoseconds each thread of `pid` has spent on a CPU."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            times[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return times


def group(name: str) -> str:
    """A pool's numbered threads under one name: 'namegen-network_1' -> 'namegen-network_*'."""
    name = re.sub(r"^Thread-\d+", "Thread-*", name)
    return re.sub(r"_\d+$", "_*", name)


def thread_names(pid: int, spy: str | None) -> dict[int, str]:
    """Thread id -> grouped Python thread name, from `py-spy dump`; without py-spy, the main thread alone."""
    if spy is None:
        return {pid: EVENT_LOOP}
    out = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60).stdout
    return {int(tid): group(name) for tid, name in re.findall(r'^Thread (\d+) \([^)]*\): "(.*)"$', out, re.MULTILINE)}


def load(wrk: str | None, port: int, path: str, seconds: int) -> tuple[int, float]:
    """Requests completed and requests per second of `seconds` of load."""
    result = run_wrk(wrk, f"http://127.0.0.1:{port}{path}", seconds) if wrk else run_python_load(port, path, seconds)
    return result.requests, result.requests_per_second


def cpu_window(cost: Cost, wrk: str | None, served: Served, path: str, seconds: int, spy: str | None) -> None:
    before = thread_times(served.pid)
    requests, rate = load(wrk, served.port, path, seconds)
    after = thread_times(served.pid)
    names = thread_names(served.pid, spy)
    unnamed = NO_PYTHON if spy else UNNAMED
    window: dict[str, float] = defaultdict(float)
    for tid, spent in after.items():
        window[names.get(tid, unnamed)] += (spent - before.get(tid, 0)) / 1e6 / requests
    cost.windows.append(window)
    cost.threads = Counter(names.get(tid, unnamed) for tid in after)
    cost.requests_per_second.append(rate)


def record(spy: str, wrk: str | None, served: Served, path: str, seconds: int, gil: bool) -> list[str]:
    """py-spy's raw stacks ('thread (TID): NAME;frame;...;frame COUNT') over `seconds` of the load. With `gil`, only
    the thread holding the GIL is sampled."""
    with tempfile.TemporaryDirectory() as directory:
        raw = Path(directory) / "raw.txt"
        command = [spy, "record", "--pid", str(served.pid), "--duration", str(seconds), "--rate", str(SPY_RATE)]
        command += ["--threads", "--nonblocking", "--format", "raw", "--output", str(raw), *(["--gil"] if gil else [])]
        spying = threading.Thread(target=subprocess.run, args=(command,), kwargs={"capture_output": True})
        spying.start()
        load(wrk, served.port, path, seconds + 1)  # the load covers the whole recording
        spying.join()
        return raw.read_text().splitlines() if raw.exists() else []


def stacks(lines: list[str]) -> Iterator[tuple[str, list[str], int]]:
    """(grouped thread name, frames outermost first, samples) of each raw line."""
    for line in lines:
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        match = re.match(r"thread \(\w+\)(?:: (.*))?$", frames[0])
        if match is not None and count.isdigit():
            yield group(match.group(1) or "?"), frames[1:], int(count)


def spy_windows(cost: Cost, spy: str, wrk: str | None, served: Served, path: str, seconds: int) -> None:
    for name, frames, count in stacks(record(spy, wrk, served, path, seconds, gil=False)):
        cost.samples[name] += count
        if name == EVENT_LOOP and frames:
            cost.loop_self[frames[-1]] += count
            # Read without stopping the process, a stack may change while py-spy walks it, and the walk ends early:
            # only whole stacks (from the interpreter's entry) count for what encloses the innermost frame.
            if frames[0].startswith(ENTRY_FRAMES):
                cost.loop_whole += count
                for frame in set(frames):
                    if "(app/" in frame and "serve.py:" not in frame:  # the serve module: on every stack
                        cost.loop_inclusive[frame] += count
    for name, _, count in stacks(record(spy, wrk, served, path, seconds, gil=True)):
        cost.gil_share[name] += count / (SPY_RATE * seconds)


def function(frame: str) -> str:
    """'Scheduler.sample (app/engine/scheduler.py:153)' -> 'Scheduler.sample (app/engine/scheduler.py)'."""
    return re.sub(r":\d+\)$", ")", frame)


def area(frame: str) -> str:
    """Where an innermost frame's code lives: the engine, the rest of app/ (the HTTP edge), a library, the
    standard library, or the event loop's own C code (uvloop: sockets, scheduling) under asyncio's Runner.run."""
    if frame.startswith("Runner.run (asyncio/"):
        return "event loop's C code"
    match = re.search(r"\(([^):]+)", frame)
    path = match.group(1) if match else ""
    if path.startswith("app/engine/"):
        return "app/engine"
    if path.startswith("app/"):
        return "app, HTTP edge"
    return path.split("/")[0] if "/" in path and not path.startswith(STDLIB_PACKAGES) else "stdlib"


def by_function(counter: Counter[str]) -> Counter[str]:
    merged: Counter[str] = Counter()
    for frame, count in counter.items():
        merged[function(frame)] += count
    return merged


def print_costs(path: str, costs: dict[str, Cost], rounds: int, seconds: int, top: int) -> None:
    print(f"\nGET {path}: CPU ms per request by thread (median of {rounds} windows of {seconds} s); with py-spy, in")
    print("windows of their own: the share of the wall time it holds the GIL, its share of the active samples, and")
    print("the event loop's functions")
    seen = {name for cost in costs.values() for window in cost.windows for name in window}
    names = sorted(seen, key=lambda name: -max(cost.median_ms(name) for cost in costs.values()))
    print(f"  {'':<24}" + "".join(f"  {label[:37]:>37}" for label in costs))
    print(f"  {'thread':<24}" + f"  {'CPU ms':>8} {'GIL':>8} {'active':>8} {'threads':>8}" * len(costs))
    for name in names:
        row = f"  {name[:24]:<24}"
        for cost in costs.values():
            share = f"{cost.samples[name] / sum(cost.samples.values()):.0%}" if cost.samples else "-"
            gil = f"{cost.gil_share[name]:.0%}" if cost.gil_share else "-"
            row += f"  {cost.median_ms(name):8.3f} {gil:>8} {share:>8} {cost.threads[name]:8d}"
        print(row)
    row = f"  {'all (CPU range)':<24}"
    for cost in costs.values():
        totals = sorted(cost.total_ms())
        gil = f"{sum(cost.gil_share.values()):.0%}" if cost.gil_share else "-"
        row += f"  {statistics.median(totals):8.3f} {gil:>8} {f'({totals[0]:.2f}-{totals[-1]:.2f})':>17}"
    print(row)
    row = f"  {'req/s; cores busy':<24}"
    for cost in costs.values():
        rate = statistics.median(cost.requests_per_second)
        row += f"  {rate:8.0f} {rate * statistics.median(cost.total_ms()) / 1e3:8.2f}{'':>18}"
    print(row)
    for label, cost in costs.items():
        loop_samples = cost.samples[EVENT_LOOP]
        if not loop_samples:
            continue
        per_request = cost.median_ms(EVENT_LOOP) * 1e3 / loop_samples  # µs of the loop's CPU per sample
        areas: Counter[str] = Counter()
        for frame, count in cost.loop_self.items():
            areas[area(frame)] += count
        print(f"  {label}: the event loop's µs per request by where its innermost frame's code lives:")
        print("    " + ", ".join(f"{name} {count * per_request:.0f}" for name, count in areas.most_common()))
        print(f"  {label}: the event loop's top functions, self ({loop_samples} samples):")
        for frame, count in by_function(cost.loop_self).most_common(top):
            print(f"    {count / loop_samples:6.1%} {count * per_request:6.0f} µs/req  {frame}")
        if cost.loop_whole:
            print(f"  {label}: ... app/ code, inclusive ({cost.loop_whole} samples whose stack py-spy read whole):")
            per_whole = cost.median_ms(EVENT_LOOP) * 1e3 / cost.loop_whole
            for frame, count in by_function(cost.loop_inclusive).most_common(top):
                print(f"    {count / cost.loop_whole:6.1%} {count * per_whole:6.0f} µs/req  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", metavar="REV", help="a git revision to measure beside this tree")
    parser.add_argument("--after", metavar="REV", help="measure this revision instead of the working tree")
    parser.add_argument("--paths", default="/sample?n=10,/healthz", help="comma-separated paths to load")
    parser.add_argument("--rounds", type=int, default=3, help="CPU windows per server and path")
    parser.add_argument("--duration", type=int, default=4, help="seconds per window")
    parser.add_argument("--spy-seconds", type=int, default=5, help="seconds of py-spy record per server and path")
    parser.add_argument("--top", type=int, default=10, help="event-loop functions listed")
    args = parser.parse_args()

    spy, wrk = py_spy(), ensure_wrk()
    print(
        f"load: {'wrk' if wrk else 'python threads'}, {CONNECTIONS} connections; thread names and samples: "
        f"{spy or 'py-spy not installed (pip install -e .[dev]): threads unnamed, no samples'}"
    )
    paths = args.paths.split(",")
    with ExitStack() as stack:
        servers = start_servers(stack, args.before, args.after)
        costs = {path: {label: Cost() for label in servers} for path in paths}
        for path in paths:
            for served in servers.values():  # the first connections and the first contexts of this load, untimed
                load(wrk, served.port, path, 1)
            for number in range(args.rounds):
                order = list(servers) if number % 2 == 0 else list(reversed(servers))
                for label in order:
                    cpu_window(costs[path][label], wrk, servers[label], path, args.duration, spy)
            if spy:
                for label, served in servers.items():
                    spy_windows(costs[path][label], spy, wrk, served, path, args.spy_seconds)
    for path in paths:
        print_costs(path, costs[path], args.rounds, args.duration, args.top)
    averages = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1, 5, 15 min): {averages} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
