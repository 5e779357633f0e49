"""Hyperparameter search on the reference dev split, within a wall-clock budget.

    namegen sweep [--budget-minutes 60] [--mode grid|random] [--trials K] [--steps N]
                  [--set n_hidden=256,512] [--export-best model_artifacts/sweep-best.pt]

(or python -m training.sweep ...)

Each trial is the `default` recipe (AdamW, cosine schedule, batch 256) with the
searched values put in, trained by `training.train.train()` and scored by its
best dev loss. No trial looks at the test split; only the exported best one is
scored on test, once, for its model card. Results go to `--out`: results.csv
(one row per trial, written as trials finish), results.md (sorted by dev loss,
with the published reference models and the bigram baseline) and results.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

from app.hashing import file_sha256
from training.command import CommandError, HelpFormatter, fail
from training.data import DEFAULT_DATA, DataError, Vocabulary, read_words, reference_split
from training.evaluate import bigram_baseline, bigram_row_loss
from training.model import loss_on
from training.recipes import TrainConfig, default
from training.sweep_report import Trial, write_csv, write_markdown, write_plot
from training.train import SplitWindows, TrainResult, train

# Searched axes. Model fields go to ModelConfig, the rest to TrainConfig.
MODEL_AXES = ("block_size", "n_embd", "n_hidden", "deep_width", "n_layers", "dropout", "n_members")
TRAIN_AXES = ("weight_decay", "lr", "steps")
RANDOM_SPACE: dict[str, list[Any]] = {
    "block_size": [3, 5, 8, 10, 12],
    "n_embd": [10, 16, 24, 32],
    "n_hidden": [128, 256, 384, 512, 768, 1024, 2048],
    "deep_width": [0, 128, 256, 512],  # 0: as wide as the first layer
    "n_layers": [1, 2, 3],
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.4],
    "n_members": [1, 2, 3],  # MLPs averaged in probability
    "weight_decay": [0.0, 0.01, 0.05, 0.1],
    "lr": [1e-3, 2e-3, 3e-3, 5e-3, 1e-2],
    "steps": [5_000, 10_000, 20_000],
}
# A small full-factorial grid (64 trials); narrow or widen any axis with --set.
GRID_SPACE: dict[str, list[Any]] = {
    "block_size": [3, 8],
    "n_embd": [10, 24],
    "n_hidden": [200, 512],
    "deep_width": [0],
    "n_layers": [1, 2],
    "dropout": [0.0, 0.3],
    "n_members": [1],
    "weight_decay": [0.0, 0.1],
    "lr": [3e-3],
    "steps": [20_000],
}
DEFAULT_RUNS = Path(__file__).resolve().parents[1] / "runs"  # git-ignored


# What each axis may be: a value outside would crash a trial or train nothing (a dev loss of inf).
AXIS_RULES: dict[str, tuple[str, Any]] = {
    "block_size": ("at least 1", lambda v: v >= 1),
    "n_embd": ("at least 1", lambda v: v >= 1),
    "n_hidden": ("at least 1", lambda v: v >= 1),
    "deep_width": ("0 (as wide as the first layer) or more", lambda v: v >= 0),
    "n_layers": ("at least 1", lambda v: v >= 1),
    "dropout": ("0 <= dropout < 1", lambda v: 0 <= v < 1),
    "n_members": ("at least 1", lambda v: v >= 1),
    "weight_decay": ("finite, >= 0", lambda v: 0 <= v < math.inf),
    "lr": ("finite, > 0", lambda v: 0 < v < math.inf),
    "steps": ("at least 1", lambda v: v >= 1),
}


def parse_axis(text: str) -> tuple[str, list[Any]]:
    """'n_hidden=256,512' -> ('n_hidden', [256, 512]) with the axis's own type, each value checked."""
    name, _, values = text.partition("=")
    if name not in RANDOM_SPACE or not values:
        raise CommandError(f"--set {text}: expected AXIS=V1,V2 with AXIS one of {', '.join(RANDOM_SPACE)}")
    kind = type(RANDOM_SPACE[name][0])
    try:
        parsed = [kind(v) for v in values.split(",")]
    except ValueError:
        raise CommandError(f"--set {text}: {name} values must be {kind.__name__}s") from None
    rule, allowed = AXIS_RULES[name]
    bad = [v for v in parsed if not allowed(v)]
    if bad:
        raise CommandError(f"--set {text}: {name} must be {rule} (got {bad[0]})")
    return name, parsed


def candidates(mode: str, space: dict[str, list[Any]], trials: int, seed: int) -> list[dict[str, Any]]:
    """The settings to try, in order: the grid's product, or `trials` distinct random draws."""
    names = list(space)
    if mode == "grid":
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*(space[n] for n in names))][
            :trials
        ]
    rng = random.Random(seed)
    total = 1
    for n in names:
        total *= len(space[n])
    seen: list[dict[str, Any]] = []
    while len(seen) < min(trials, total):
        choice = {n: rng.choice(space[n]) for n in names}
        if choice not in seen:
            seen.append(choice)
    return seen


def trial_config(values: dict[str, Any], vocab_size: int, seed: int, threads: int) -> TrainConfig:
    config = default()
    for name in MODEL_AXES:
        setattr(config.model, name, values[name])
    for name in TRAIN_AXES:
        setattr(config, name, values[name])
    config.model.vocab_size = vocab_size
    config.eval_interval = max(1, config.steps // 10)  # ten looks at dev per trial, whatever its length
    config.warmup_steps = min(config.warmup_steps, config.steps // 10)
    config.seed, config.threads = seed, threads
    return config


def run_sweep(
    data: Path,
    budget_seconds: float,
    mode: str = "random",
    trials: int = 50,
    steps: int | None = None,
    out: Path | None = None,
    export_best: Path | None = None,
    seed: int | None = None,
    threads: int = 0,
    overrides: dict[str, list[Any]] | None = None,
    log: Any = print,
) -> list[Trial]:
    space = dict(GRID_SPACE if mode == "grid" else RANDOM_SPACE)
    if steps is not None:
        space["steps"] = [steps]
    space.update(overrides or {})
    seed = default().seed if seed is None else seed

    words = read_words(data)  # before any output exists: a bad file leaves no empty results directory
    vocab = Vocabulary.from_words(words)
    split = reference_split(words)
    if not split.dev:
        raise DataError(f"{data}: {len(words)} words leave the dev split empty; a sweep needs at least 10")
    out = out or DEFAULT_RUNS / f"sweep-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    bigram_dev = bigram_row_loss(bigram_baseline(split.train, vocab), split.dev, vocab)
    header = [
        f"# Sweep on `{data.name}`",
        "",
        f"{len(words)} words (sha256 `{file_sha256(data)}`), reference split; {mode} search, "
        f"budget {budget_seconds / 60:g} min, seed {seed}. Ranked by the best dev loss seen during each trial "
        "(nats/char, end token included); the test split was not used. Published rows are from the lectures.",
    ]
    windows_by_context: dict[int, SplitWindows] = {}
    started = time.perf_counter()  # the budget is for trials: the first one always starts
    results: list[Trial] = []
    best: tuple[float, TrainResult, TrainConfig] | None = None
    for number, values in enumerate(candidates(mode, space, trials, seed), start=1):
        remaining = budget_seconds - (time.perf_counter() - started)
        if remaining <= 0:
            log(f"budget spent: stopping after {len(results)} trial(s)")
            break
        config = trial_config(values, vocab.size, seed, threads)
        if config.model.block_size not in windows_by_context:
            windows_by_context[config.model.block_size] = SplitWindows.build(split, vocab, config.model.block_size)
        windows = windows_by_context[config.model.block_size]
        result = train(config, windows, progress=False, time_budget=remaining)
        steps_run = int(result.history[-1]["step"]) if result.history else 0
        trial = Trial(
            trial=number,
            **values,
            steps_run=steps_run,
            parameters=result.model.num_parameters(),
            train_loss=result.train_loss,
            dev_loss=result.dev_loss,
            best_step=result.best_step,
            seconds=result.seconds,
            cut_by_budget=steps_run < config.steps,
        )
        results.append(trial)
        log(
            f"trial {number}: {values} -> dev {trial.dev_loss:.4f} ({trial.parameters:,} params, "
            f"{steps_run}/{config.steps} steps, {trial.seconds:.0f} s)"
        )
        if best is None or trial.dev_loss < best[0]:
            best = (trial.dev_loss, result, config)
        write_csv(results, out / "results.csv")
        write_markdown(results, bigram_dev, vocab.size**2, header, out / "results.md")
    write_plot(results, bigram_dev, out / "results.png")
    if export_best is not None and best is not None and not math.isfinite(best[0]):
        # Every trial diverged: an artifact would carry a card reading "dev inf".
        raise CommandError(f"no trial reached a finite dev loss: {export_best} not written", 1)
    if export_best is not None and best is not None:
        from training.export import export_artifact

        _, result, config = best
        windows = windows_by_context[config.model.block_size]
        test_loss = loss_on(result.model, windows.test.x, windows.test.y)  # once, for the model card
        export_artifact(result, test_loss, config, "sweep", vocab, words, data, windows, export_best)
        log(f"exported the best trial (dev {best[0]:.4f}) to {export_best}")
    log(f"wrote {out / 'results.csv'}, {out / 'results.md'}, {out / 'results.png'}")
    return results


def parse_args(argv: list[str] | None, prog: str = "python -m training.sweep") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="words: UTF-8, one item per line")
    p.add_argument("--budget-minutes", type=float, default=30.0, help="no trial starts after this")
    p.add_argument("--mode", choices=("grid", "random"), default="random", help="how settings are chosen")
    p.add_argument("--trials", type=int, default=1000, help="at most this many trials")
    p.add_argument("--steps", type=int, help="every trial trains this many steps (default: steps is an axis)")
    p.add_argument(
        "--set",
        dest="axes",
        action="append",
        default=[],
        metavar="AXIS=V1,V2",
        help=f"replace an axis's values (repeatable); axes: {', '.join(RANDOM_SPACE)}",
    )
    p.add_argument("--seed", type=int, help=f"training and sampling seed (default: the recipe's, {default().seed})")
    p.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's choice")
    p.add_argument("--out", type=Path, help="results directory (default: runs/sweep-<timestamp>/)")
    p.add_argument("--export-best", type=Path, metavar="PATH", help="export the best trial as a model file")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> dict[str, list[Any]]:
    """Refuse, in one line, settings that could not give a finite dev loss; returns the --set overrides."""
    if not 0 < args.budget_minutes < math.inf:
        raise CommandError(f"--budget-minutes must be positive (got {args.budget_minutes:g})")
    if args.trials < 1:
        raise CommandError(f"--trials must be at least 1 (got {args.trials})")
    if args.steps is not None and args.steps < 1:
        raise CommandError(f"--steps must be at least 1 (got {args.steps}): no step, no dev loss to rank by")
    if args.threads < 0:
        raise CommandError(f"--threads must be 0 (torch's choice) or more (got {args.threads})")
    if args.export_best is not None and args.export_best.is_dir():
        raise CommandError(f"{args.export_best}: is a directory; --export-best names the model file to write")
    return dict(parse_axis(text) for text in args.axes)


def main(argv: list[str] | None = None, prog: str = "python -m training.sweep") -> int:
    args = parse_args(argv, prog)
    try:
        overrides = check_args(args)
        run_sweep(
            args.data,
            args.budget_minutes * 60,
            args.mode,
            args.trials,
            args.steps,
            args.out,
            args.export_best,
            args.seed,
            args.threads,
            overrides,
        )
    except DataError as exc:
        return fail(str(exc))
    except CommandError as exc:
        return fail(str(exc), exc.code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
