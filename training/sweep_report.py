"""The sweep's outputs, from the study (every worker's trials): results.csv, results.md (ranked by dev loss,
with reference rows), results.png, and Optuna's optimization history, intermediate values and importances."""

from __future__ import annotations

import csv
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import optuna


@dataclass
class Trial:
    trial: int
    state: str  # complete or pruned
    worker: str
    block_size: int
    n_embd: int
    n_hidden: int
    deep_width: int
    n_layers: int
    dropout: float
    n_members: int
    weight_decay: float
    lr: float
    steps: int
    steps_run: int
    parameters: int
    train_loss: float
    dev_loss: float
    best_step: int
    seconds: float
    cut_by_budget: bool  # stopped before `steps` because the time ran out: not comparable at face value

    @classmethod
    def of(cls, t: optuna.trial.FrozenTrial) -> Trial:
        attrs = {name: t.user_attrs[name] for name in RECORDED}
        return cls(trial=t.number, state=t.state.name.lower(), worker=t.user_attrs["worker"], **t.params, **attrs)


CSV_FIELDS = tuple(f.name for f in fields(Trial))
# What the trial function records beside the searched values (optuna.Trial.set_user_attr).
RECORDED = ("steps_run", "parameters", "train_loss", "dev_loss", "best_step", "seconds", "cut_by_budget")
# Published dev losses on the same split (../shared/data/README.md): (label, parameters, dev loss).
REFERENCE_ROWS = (
    ("lecture MLP (published)", 11_897, 2.17),
    ("flat context-8 MLP (published)", 22_000, 2.027),
    ("hierarchical WaveNet (published)", 76_000, 1.993),
)


def hidden_shape(t: Trial) -> str:
    """'1024 + 1 x 256' for a wide first layer and narrower deeper ones; '2 x 512' when all are equal;
    prefixed '3 MLPs of ' when several members are averaged."""
    deep = t.deep_width or t.n_hidden
    if t.n_layers == 1 or deep == t.n_hidden:
        shape = f"{t.n_layers} x {t.n_hidden}"
    else:
        shape = f"{t.n_hidden} + {t.n_layers - 1} x {deep}"
    return f"{t.n_members} MLPs of {shape}" if t.n_members > 1 else shape


def write_csv(trials: list[Trial], out: Path) -> None:
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(asdict(t) for t in trials)


def write_markdown(trials: list[Trial], bigram_dev: float, bigram_params: int, header: list[str], out: Path) -> None:
    rows: list[tuple[float, str]] = []
    for t in trials:
        cut = " (cut by budget)" if t.cut_by_budget else " (pruned)" if t.state == "pruned" else ""
        rows.append(
            (
                t.dev_loss,
                f"| trial {t.trial} | {t.block_size} | {t.n_embd} | {hidden_shape(t)} | "
                f"{t.dropout} | {t.weight_decay} | {t.lr} | {t.steps_run}/{t.steps}{cut} | {t.parameters:,} | "
                f"{t.train_loss:.4f} | **{t.dev_loss:.4f}** | {t.seconds:.0f} |",
            )
        )
    for label, params, dev in REFERENCE_ROWS:
        rows.append((dev, f"| *{label}* | | | | | | | | ~{params:,} | | *{dev:.3f}* | |"))
    rows.append(
        (
            bigram_dev,
            f"| *bigram baseline (counts, add-one)* | 1 | | | | | | | {bigram_params:,} | | *{bigram_dev:.4f}* | |",
        )
    )
    lines = [
        *header,
        "",
        "| model | context | embd | hidden | dropout | weight decay | lr | steps run | parameters | train | dev | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(line for _, line in sorted(rows, key=lambda r: r[0])),
        "",
    ]
    out.write_text("\n".join(lines))


def write_plot(trials: list[Trial], bigram_dev: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    trials = [t for t in trials if math.isfinite(t.dev_loss)]  # a diverged trial has no point to place
    full = [t for t in trials if not t.cut_by_budget]
    cut = [t for t in trials if t.cut_by_budget]
    ax.scatter([t.parameters for t in full], [t.dev_loss for t in full], label="trial", color="#1f77b4")
    if cut:
        ax.scatter(
            [t.parameters for t in cut],
            [t.dev_loss for t in cut],
            label="trial cut by budget",
            facecolors="none",
            edgecolors="#1f77b4",
        )
    for t in trials:
        ax.annotate(str(t.trial), (t.parameters, t.dev_loss), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for (label, _, dev), style in zip(REFERENCE_ROWS, (":", "--", "-."), strict=True):
        ax.axhline(dev, color="gray", linestyle=style, linewidth=1, label=label)
    ax.axhline(bigram_dev, color="#d62728", linewidth=1, label="bigram baseline")
    if trials:  # a log axis needs positive data; with none, the reference lines alone are drawn
        ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("dev loss (nats/char)")
    ax.set_title("Sweep: best dev loss per trial")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def trials_of(study: optuna.Study) -> list[Trial]:
    """The study's finished trials that trained (a repeat of earlier settings trains nothing), by number."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [
        Trial.of(t)
        for t in study.get_trials(deepcopy=False, states=states)
        if "repeat_of" not in t.user_attrs and all(name in t.user_attrs for name in RECORDED)
    ]


def write_optuna_plots(study: optuna.Study, searched: list[str], out: Path) -> list[Path]:
    """Optuna's optimization history, intermediate values and the importances of the `searched` axes (those
    with more than one value), as far as the trials allow (importances need two finished trials)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    written = []
    plots: dict[str, Callable[[optuna.Study], Any]] = {
        "history.png": optuna_plots.plot_optimization_history,
        "intermediate.png": optuna_plots.plot_intermediate_values,
        # PED-ANOVA, Optuna's default: unlike fANOVA it needs no scikit-learn.
        "importances.png": functools.partial(optuna_plots.plot_param_importances, params=searched),
    }
    for name, plot in plots.items():
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # a study too small for a plot says so: no matter
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the plots are marked experimental
                plot(study)
        except (ValueError, RuntimeError):  # e.g. importances of a single trial
            plt.close("all")
            continue
        finally:
            optuna.logging.set_verbosity(verbosity)
        figure = plt.gcf()
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        figure.savefig(out / name, dpi=100)
        plt.close(figure)
        written.append(out / name)
    return written


def write_reports(
    study: optuna.Study,
    bigram_dev: float,
    bigram_params: int,
    header: list[str],
    out: Path,
    searched: list[str] | None = None,
) -> list[Path]:
    """The tables, and with `searched` (the axes with more than one value) the plots."""
    trials = trials_of(study)
    write_csv(trials, out / "results.csv")
    write_markdown(trials, bigram_dev, bigram_params, header, out / "results.md")
    written = [out / "results.csv", out / "results.md"]
    if searched is not None:
        write_plot(trials, bigram_dev, out / "results.png")
        written += [out / "results.png", *write_optuna_plots(study, searched, out)]
    return written
