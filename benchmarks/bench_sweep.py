"""The hand-written random search (the sweep before Optuna, from git) against `namegen sweep`, side by side.

    python benchmarks/bench_sweep.py [--budget-minutes 20] [--data ../shared/data/names.txt] [--seed S]
                                     [--old-rev e391213] [--out runs/bench-sweep] [-- SWEEP OPTIONS]

Both run at the same time, one torch thread each, with the same budget and seed, so they share the
machine's conditions. Prints, for each, the trials run and pruned, the best dev loss and when it was
reached, and when the Optuna sweep first matched the random search's best (as a share of the budget).
Times are from each process's start, taken from its "trial N: ... -> dev X" lines as they are printed; a
trial pruned or cut by the budget does not count as reached. `--summarize` prints the figures of the logs
an earlier run left in --out.
Options after `--` go to both sweeps (e.g. `-- --steps 2000 --set n_members=1` for cheaper trials).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.data import DEFAULT_DATA  # noqa: E402
from training.recipes import default  # noqa: E402

OLD_REV = "e391213"  # the last commit with the hand-written grid/random loop
TRIAL_LINE = re.compile(r"^trial (\d+): .* -> dev (\S+) \(.*, (\d+)/(\d+) steps, .*?(pruned at \d+%)?\)$")
LABELS = {"old": "random search (before)", "new": "Optuna TPE + median pruner"}


@dataclass
class Finished:
    seconds: float  # since the process started
    trial: int
    dev_loss: float
    pruned: bool
    cut: bool  # stopped by the budget before its last step


def old_sweep(rev: str, into: Path) -> Path:
    """The old sweep and its report module as they were at `rev`, importable side by side with today's."""
    into.mkdir(parents=True, exist_ok=True)
    for name in ("sweep", "sweep_report"):
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:training/{name}.py"], check=True, capture_output=True, text=True
        ).stdout
        source = source.replace("from training.sweep_report import", "from old_sweep_report import")
        (into / f"old_{name}.py").write_text(source)
    return into / "old_sweep.py"


def run_logged(command: list[str], log: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `command`; a thread copies its output to `log` and keeps each line with its time since the start."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def copy() -> None:
        assert process.stdout is not None
        with log.open("w") as f:
            for line in process.stdout:
                stamped = f"{time.perf_counter() - started:8.1f} {line.rstrip()}"
                lines.append(stamped)
                f.write(stamped + "\n")
                f.flush()

    threading.Thread(target=copy, daemon=True).start()
    return process, lines


def finished_trials(lines: list[str]) -> list[Finished]:
    trials = []
    for line in lines:
        seconds, _, text = line.strip().partition(" ")
        match = TRIAL_LINE.match(text.strip())
        if match:
            pruned, cut = match[5] is not None, match[5] is None and int(match[3]) < int(match[4])
            trials.append(Finished(float(seconds), int(match[1]), float(match[2]), pruned, cut))
    return trials


def best_over_time(trials: list[Finished]) -> list[tuple[float, float]]:
    """(seconds, best dev loss so far) at each improvement, over the trials that ran all their steps."""
    curve: list[tuple[float, float]] = []
    for t in trials:
        if not (t.pruned or t.cut) and (not curve or t.dev_loss < curve[-1][1]):
            curve.append((t.seconds, t.dev_loss))
    return curve


def first_reaching(curve: list[tuple[float, float]], target: float) -> float | None:
    return next((seconds for seconds, dev in curve if dev <= target), None)


def summarize(logs: dict[str, list[str]]) -> None:
    results = {label: finished_trials(lines) for label, lines in logs.items()}
    curves = {label: best_over_time(trials) for label, trials in results.items()}
    print(f"{'sweep':28} {'trials':>6} {'pruned':>6} {'cut':>4} {'best dev':>9} {'reached at':>11}")
    for label, trials in results.items():
        curve = curves[label]
        best, when = (curve[-1][1], f"{curve[-1][0] / 60:.1f} min") if curve else (float("nan"), "-")
        pruned, cut = sum(t.pruned for t in trials), sum(t.cut for t in trials)
        print(f"{label:28} {len(trials):>6} {pruned:>6} {cut:>4} {best:>9.4f} {when:>11}")
    old_curve, new_curve = curves.values()
    if old_curve:
        target, old_when = old_curve[-1][1], old_curve[-1][0]
        new_when = first_reaching(new_curve, target)
        if new_when is None:
            print(f"the Optuna sweep did not reach the random search's best ({target:.4f}) within the budget")
        else:
            print(
                f"the Optuna sweep reached the random search's best ({target:.4f}) at {new_when / 60:.1f} min: "
                f"{new_when / old_when:.2f}x the random search's time to it"
            )
    for label, curve in curves.items():
        print(f"{label}: best so far " + ", ".join(f"{s / 60:.1f} min {d:.4f}" for s, d in curve))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-minutes", type=float, default=20.0)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=default().seed)
    p.add_argument("--old-rev", default=OLD_REV)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-sweep")
    p.add_argument("--summarize", action="store_true", help="only print the figures of the logs in --out")
    p.add_argument("sweep_options", nargs="*", help="given to both sweeps, after --")
    args = p.parse_args()
    if args.summarize:
        summarize({label: (args.out / f"{name}.log").read_text().splitlines() for name, label in LABELS.items()})
        return
    args.out.mkdir(parents=True, exist_ok=True)
    data, budget = str(args.data.resolve()), str(args.budget_minutes)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    common = ["--data", data, "--budget-minutes", budget, "--seed", str(args.seed), "--threads", "1"]
    common += args.sweep_options
    commands = {
        "old": [sys.executable, "-u", str(old_sweep(args.old_rev, args.out / "old-code")), "--mode", "random"],
        "new": [sys.executable, "-u", "-m", "training.sweep", "--study", "bench"],
    }
    runs = {}
    for name, command in commands.items():
        out = args.out / name
        if (out / "study.db").exists():
            (out / "study.db").unlink()  # a fresh study each time the benchmark runs
        runs[LABELS[name]] = run_logged([*command, *common, "--out", str(out)], args.out / f"{name}.log", env)
    for process, _ in runs.values():
        process.wait()
    time.sleep(0.5)  # the copying threads reach the end of the output
    print(f"budget {args.budget_minutes:g} min each, seed {args.seed}, one torch thread each, run side by side")
    if args.sweep_options:
        print(f"both with {' '.join(args.sweep_options)}")
    summarize({label: lines for label, (_, lines) in runs.items()})


if __name__ == "__main__":
    main()
