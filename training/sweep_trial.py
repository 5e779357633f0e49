"""What a sweep searches and how one trial runs: the axes and their rules, and the trial function that trains
the `default` recipe with a trial's values and reports its dev loss to the pruner at each evaluation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import optuna

from training.command import CommandError
from training.recipes import TrainConfig, default
from training.sweep_study import WORKER, SweepData
from training.train import TrainResult, train

# Searched axes. Model fields go to ModelConfig, the rest to TrainConfig.
MODEL_AXES = ("block_size", "n_embd", "n_hidden", "deep_width", "n_layers", "dropout", "n_members")
TRAIN_AXES = ("weight_decay", "lr", "steps")
SPACE: dict[str, list[Any]] = {
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
    if name not in SPACE or not values:
        raise CommandError(f"--set {text}: expected AXIS=V1,V2 with AXIS one of {', '.join(SPACE)}")
    kind = type(SPACE[name][0])
    try:
        parsed = list(dict.fromkeys(kind(v) for v in values.split(",")))  # a repeated value is one choice
    except ValueError:
        raise CommandError(f"--set {text}: {name} values must be {kind.__name__}s") from None
    rule, allowed = AXIS_RULES[name]
    bad = [v for v in parsed if not allowed(v)]
    if bad:
        raise CommandError(f"--set {text}: {name} must be {rule} (got {bad[0]})")
    return name, parsed


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


def percent_done(step: int, steps: int) -> int:
    """The pruner's step: trials of different lengths are compared at the same share of their cosine schedule."""
    return 100 * step // steps


@dataclass
class Objective:
    """The trial function: the recipe with the trial's values, trained on train, ranked by its best dev loss."""

    data: SweepData
    space: dict[str, list[Any]]
    seed: int
    threads: int
    deadline: float  # time.perf_counter() after which a running trial is cut
    log: Any = print
    best: tuple[int, float, TrainResult, TrainConfig] | None = field(default=None, repr=False)  # this process's

    def __call__(self, trial: optuna.Trial) -> float:
        values = {name: trial.suggest_categorical(name, choices) for name, choices in self.space.items()}
        trial.set_user_attr("worker", WORKER)
        earlier = next((t for t in settled(trial.study) if t.params == values), None)
        if earlier is not None:  # the sampler proposed settings already tried: their result stands
            trial.set_user_attr("repeat_of", earlier.number)
            self.log(f"trial {trial.number}: same settings as trial {earlier.number}, not trained again")
            if earlier.state == optuna.trial.TrialState.PRUNED:
                raise optuna.TrialPruned()
            return float(earlier.value)  # type: ignore[arg-type]
        config = trial_config(values, self.data.vocab.size, self.seed, self.threads)
        pruned_at: list[int] = []

        def report(step: int, dev_loss: float) -> bool:
            percent = percent_done(step, config.steps)
            trial.report(dev_loss, percent)
            if trial.should_prune():
                pruned_at.append(percent)
            return bool(pruned_at)

        remaining = max(0.0, self.deadline - time.perf_counter())
        windows = self.data.windows(config.model.block_size)
        result = train(config, windows, progress=False, time_budget=remaining, on_evaluation=report)
        steps_run = int(result.history[-1]["step"]) if result.history else 0
        attrs = {
            "steps_run": steps_run,
            "parameters": result.model.num_parameters(),
            "train_loss": result.train_loss,
            "dev_loss": result.dev_loss,
            "best_step": result.best_step,
            "seconds": result.seconds,
            "cut_by_budget": steps_run < config.steps and not pruned_at,
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        outcome = f"pruned at {pruned_at[0]}%" if pruned_at else "cut by the budget" if attrs["cut_by_budget"] else ""
        self.log(
            f"trial {trial.number}: {values} -> dev {result.dev_loss:.4f} ({attrs['parameters']:,} params, "
            f"{steps_run}/{config.steps} steps, {result.seconds:.0f} s{', ' + outcome if outcome else ''})"
        )
        if pruned_at or attrs["cut_by_budget"]:  # a stopped trial's loss would mislead the sampler as a final one
            raise optuna.TrialPruned(outcome)
        if self.best is None or result.dev_loss < self.best[1]:
            self.best = (trial.number, result.dev_loss, result, config)
        return result.dev_loss


def settled(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials whose outcome stands: finished or pruned, not cut short by a budget (those may run again)."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False, states=states) if not t.user_attrs.get("cut_by_budget")]
