"""Hyperparameter search on the dev split with Optuna, within a wall-clock budget, on one machine or many.

    namegen sweep [--budget-minutes 30] [--mode tpe|grid|random] [--trials K] [--steps N]
                  [--set n_hidden=256,512] [--export-best model_artifacts/sweep-best.pt]
                  [--out runs/sweep-<time>] [--storage URL] [--study NAME] [--resume]

(or python -m training.sweep ...)

Each trial is the `default` recipe (AdamW, cosine schedule, batch 256) with the searched values put in,
trained by `training.train.train()`. Its dev loss at each of its ten evaluations goes to a median pruner,
which stops a trial whose best is worse than the median of the finished trials at the same share of their
steps. No trial looks at the test split; only the exported best one is scored on test, once, for its card.

The study is kept in <out>/study.db (SQLite) unless --storage names a database that workers on several
machines share (postgresql://user:password@host/db); --resume continues a stored study with its own
settings. Results go to --out: results.csv and results.md (finished trials ranked by dev loss, with the
published reference models and the bigram baseline), results.png, and Optuna's history.png,
importances.png and intermediate.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from training.command import EXIT_FAILED, CommandError, HelpFormatter, fail
from training.data import DEFAULT_DATA, DataError
from training.evaluate import bigram_baseline, bigram_row_loss
from training.model import loss_on
from training.recipes import default
from training.sweep_report import write_reports
from training.sweep_study import StudySettings, SweepData, latest_run, open_study, shown_url, sqlite_url
from training.sweep_trial import GRID_SPACE, SPACE, Objective, parse_axis, settled, trial_config
from training.train import train

DEFAULT_RUNS = Path(__file__).resolve().parents[1] / "runs"  # git-ignored


def make_sampler(mode: str, space: dict[str, list[Any]], seed: int) -> optuna.samplers.BaseSampler:
    if mode == "grid":
        return optuna.samplers.GridSampler(space, seed=seed)
    if mode == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # TPE models which values gave good trials and draws more like them: better than random within tens of
    # trials. Its default of 10 random start-up trials would be half of a short budget's trials; 5 suffice.
    return optuna.samplers.TPESampler(n_startup_trials=5, seed=seed)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    # Median rather than Hyperband: a budget holds tens of trials of different lengths, too few to split into
    # Hyperband's brackets (each trains its own TPE on a fraction of them). From the second evaluation on,
    # once three trials have finished.
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=20)


@dataclass
class SweepOptions:
    data: Path = DEFAULT_DATA
    budget_minutes: float = 30.0
    mode: str | None = None  # None: the resumed study's, else "tpe"
    trials: int = 1000
    steps: int | None = None
    axes: dict[str, list[Any]] = field(default_factory=dict)
    seed: int | None = None
    threads: int = 0
    out: Path | None = None
    export_best: Path | None = None
    storage: str | None = None
    study: str = "sweep"
    resume: bool = False
    pruner: str | None = None  # None: median, or none for a grid


def settings_of(options: SweepOptions, data: SweepData) -> StudySettings:
    mode = options.mode or "tpe"
    space = dict(GRID_SPACE if mode == "grid" else SPACE)
    if options.steps is not None:
        space["steps"] = [options.steps]
    space.update(options.axes)
    seed = default().seed if options.seed is None else options.seed
    return StudySettings(mode, space, seed, data.path.name, data.sha256)


def run_sweep(options: SweepOptions, log: Any = print) -> optuna.Study:
    data = SweepData.read(options.data)  # before any output exists: a bad file leaves no results directory
    out = options.out
    if options.resume and out is None and options.storage is None:
        out = latest_run(DEFAULT_RUNS)
        log(f"resuming the latest run, {out}")
    out = out or DEFAULT_RUNS / f"sweep-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    url = options.storage or sqlite_url(out)
    if options.resume and options.storage is None and not (out / "study.db").exists():
        raise CommandError(f"{out}: no study.db to resume; --out names a sweep's results directory")
    wanted = None if options.resume else settings_of(options, data)
    study, settings, joined = open_study(url, options.study, wanted, data, out)
    study.sampler = make_sampler(settings.mode, settings.space, settings.sampler_seed(joined, len(study.trials)))
    study.pruner = make_pruner(options.pruner or ("none" if settings.mode == "grid" else "median"))
    if joined:
        log(
            f"{'resuming' if options.resume else 'joining'} study {options.study!r} in {shown_url(url)}: "
            f"{len(study.trials)} trial(s) so far"
        )
    bigram_dev = bigram_row_loss(bigram_baseline(data.split.train, data.vocab), data.split.dev, data.vocab)
    header = [
        f"# Sweep on `{settings.data_name}`",
        "",
        f"{len(data.words)} words (sha256 `{data.sha256}`), reference split; study {options.study!r}, "
        f"{settings.mode} sampler, seed {settings.seed}. Ranked by the best dev loss seen during each trial "
        "(nats/char, end token included); the test split was not used. Published rows are from the lectures.",
    ]
    deadline = time.perf_counter() + options.budget_minutes * 60  # the first trial always starts
    objective = Objective(data, settings.space, settings.seed, options.threads, deadline, log)

    def after_trial(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        write_reports(study, bigram_dev, data.vocab.size**2, header, out)
        if time.perf_counter() >= deadline:
            log("budget spent: no further trial starts")
            study.stop()
        elif len({tuple(t.params.items()) for t in settled(study)}) >= math.prod(map(len, settings.space.values())):
            log("every setting of the space has been tried")
            study.stop()

    try:
        study.optimize(objective, n_trials=options.trials, callbacks=[after_trial], catch=())
    finally:
        searched = [name for name, values in settings.space.items() if len(values) > 1]
        written = write_reports(study, bigram_dev, data.vocab.size**2, header, out, searched)
        log(f"wrote {', '.join(str(path) for path in written)}")
    if options.export_best is not None:
        export(study, objective, options.export_best, data, log)
    return study


def export(study: optuna.Study, objective: Objective, path: Path, data: SweepData, log: Any) -> None:
    """The study's best trial as a model file, trained again if another process or run trained it."""
    from training.export import export_artifact

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not any(math.isfinite(t.value) for t in complete if t.value is not None):
        # Every trial diverged or was stopped early: an artifact would carry a card reading "dev inf", or a
        # model its settings did not finish training.
        raise CommandError(f"no trial finished with a finite dev loss: {path} not written", EXIT_FAILED)
    best = study.best_trial
    number = best.user_attrs.get("repeat_of", best.number)
    if objective.best is not None and objective.best[0] == number:
        _, dev, result, config = objective.best
    else:
        log(f"training trial {number} again (it ran in another process) to export it")
        config = trial_config(best.params, data.vocab.size, objective.seed, objective.threads)
        result = train(config, data.windows(config.model.block_size), progress=False)
        dev = result.dev_loss
    windows = data.windows(config.model.block_size)
    test_loss = loss_on(result.model, windows.test.x, windows.test.y)  # once, for the model card
    values = " ".join(f"--set {name}={value}" for name, value in best.params.items())
    command = f"namegen sweep --mode grid --trials 1 --data {data.path} --seed {objective.seed} {values}"
    export_artifact(result, test_loss, config, "sweep", data.vocab, data.words, data.path, windows, path, command)
    log(f"exported trial {number} (dev {dev:.4f}) to {path}")


def parse_args(argv: list[str] | None, prog: str = "python -m training.sweep") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=HelpFormatter, allow_abbrev=False)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="words: UTF-8, one item per line")
    p.add_argument("--budget-minutes", type=float, default=30.0, help="no trial starts after this")
    p.add_argument(
        "--mode", choices=("tpe", "grid", "random"), help="how settings are chosen (default: tpe, or the study's)"
    )
    p.add_argument("--trials", type=int, default=1000, help="at most this many trials in this process")
    p.add_argument("--steps", type=int, help="every trial trains this many steps (default: steps is an axis)")
    p.add_argument(
        "--set",
        dest="axes",
        action="append",
        default=[],
        metavar="AXIS=V1,V2",
        help=f"replace an axis's values (repeatable); axes: {', '.join(SPACE)}",
    )
    p.add_argument("--seed", type=int, help=f"training and sampling seed (default: the recipe's, {default().seed})")
    p.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's choice")
    p.add_argument(
        "--pruner",
        choices=("median", "none"),
        help="stops hopeless trials early (default: median; none with --mode grid, which ranks every setting)",
    )
    p.add_argument("--out", type=Path, help="results directory (default: runs/sweep-<timestamp>/)")
    p.add_argument("--storage", metavar="URL", help="a database several workers share (default: <out>/study.db)")
    p.add_argument("--study", default="sweep", help="the study's name in the storage")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a stored study (--storage's, --out's or the latest run's) with its settings",
    )
    p.add_argument("--export-best", type=Path, metavar="PATH", help="export the best trial as a model file")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> SweepOptions:
    """Refuse, in one line, settings that could not give a finite dev loss or a usable study."""
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
    if not args.study.strip():
        raise CommandError("--study must not be empty")
    if args.storage is not None and not args.storage.strip():
        raise CommandError("--storage must not be empty (without it the study is <out>/study.db)")
    given = [name for name in ("mode", "steps", "seed") if getattr(args, name) is not None] + ["set"] * bool(args.axes)
    if args.resume and given:
        raise CommandError(f"--resume continues the study with its own settings: drop --{', --'.join(given)}")
    axes = dict(parse_axis(text) for text in args.axes)
    return SweepOptions(
        args.data,
        args.budget_minutes,
        args.mode,
        args.trials,
        args.steps,
        axes,
        args.seed,
        args.threads,
        args.out,
        args.export_best,
        args.storage,
        args.study,
        args.resume,
        args.pruner,
    )


def main(argv: list[str] | None = None, prog: str = "python -m training.sweep") -> int:
    args = parse_args(argv, prog)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial is logged once, by the objective
    try:
        run_sweep(check_args(args))
    except DataError as exc:
        return fail(str(exc))
    except CommandError as exc:
        return fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return fail("stopped; `--resume` with the same --out (or --storage and --study) continues the study", 130)
    return 0


if __name__ == "__main__":
    sys.exit(main())
