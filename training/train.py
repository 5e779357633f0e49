"""Train the name MLP on a words file (one item per line, or a column of a .csv/.tsv table) and export it.

    namegen train --data my-words.txt --out model_artifacts/my.pt     (or python -m training.train ...)

Prints what it read, a progress bar with live train/dev loss, the best step's train/dev/test loss,
then writes the model file and, beside it, its model card (.card.md, .card.json) and plots (.loss.png,
.embeddings.png). Without --out it replaces the shipped model. The trained weights are saved first, in
<out>.trained.pt: if the export fails or Ctrl-C stops the run, they stay there for --reexport.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from app.engine.artifact import TRAINED_WEIGHTS_SUFFIX
from training.command import DEFAULT_MODEL, EXIT_FAILED, CommandError, HelpFormatter, fail
from training.data import DEFAULT_DATA, ContextWindows, DataError, Split, Vocabulary, load_words, reference_split, shown
from training.keep import EXIT_INTERRUPTED, CtrlC, check_out, export_or_keep, reexport, reexport_command
from training.model import NameMLP, loss_on
from training.recipes import RECIPES, TrainConfig


@dataclass
class SplitWindows:
    train: ContextWindows
    dev: ContextWindows
    test: ContextWindows

    @classmethod
    def build(cls, split: Split, vocab: Vocabulary, block_size: int) -> SplitWindows:
        return cls(*(ContextWindows.build(ws, vocab, block_size) for ws in (split.train, split.dev, split.test)))


@dataclass
class TrainResult:
    model: NameMLP  # the best weights on dev, in eval mode
    best_step: int
    train_loss: float
    dev_loss: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)  # step, train_loss, dev_loss, seconds


def learning_rate(config: TrainConfig, step: int) -> float:
    if config.schedule == "step":
        return config.lr if step < config.steps // 2 else config.lr / 10
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    floor = config.lr * config.final_lr_ratio
    return floor + 0.5 * (config.lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def evaluation(model: NameMLP, windows: SplitWindows, step: int, started: float) -> dict[str, float]:
    """A history row: the dev loss and the train loss after `step` steps, and the seconds since `started`."""
    dev = loss_on(model, windows.dev.x, windows.dev.y)
    # The full train loss is costly; a fixed 20k-window sample tracks it well.
    train_loss = loss_on(model, windows.train.x[:20_000], windows.train.y[:20_000])
    return {"step": step, "train_loss": train_loss, "dev_loss": dev, "seconds": time.perf_counter() - started}


def make_optimizer(config: TrainConfig, model: NameMLP) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # Decay matrices only: biases, norms and the embedding table stay free.
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embedding" not in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    # fused: one kernel per parameter group instead of a dozen ops per tensor, a visible share of a step.
    return torch.optim.AdamW(groups, lr=config.lr, fused=True)


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """torch.save through a temporary file renamed over `path`: a run stopped mid-write leaves the last whole one."""
    partial = path.with_name(f".{path.name}.partial")
    torch.save(state, partial)
    os.replace(partial, path)


def train(
    config: TrainConfig,
    windows: SplitWindows,
    checkpoint: Path | None = None,
    progress: bool = True,
    time_budget: float | None = None,
    on_evaluation: Callable[[int, float], bool] | None = None,
    stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Minibatch training with periodic dev evaluation, keeping the best weights on dev.

    With `checkpoint`, state is saved at every evaluation and training resumes
    from it if it exists; the batch generator's state is saved too, so a resumed
    run gives the same losses as an uninterrupted one. `on_evaluation(step, dev_loss)`
    is called at each evaluation; returning True stops training there (a sweep's pruner).
    `stop()` is asked after every step; True ends training there with an evaluation, as an exhausted
    `time_budget` does (Ctrl-C).
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = NameMLP(config.model)
    optimizer = make_optimizer(config, model)
    batches = torch.Generator().manual_seed(config.seed)
    start_step, elapsed, history = 0, 0.0, []
    best: dict[str, torch.Tensor] = copy.deepcopy(model.state_dict())
    best_step, best_dev = 0, math.inf
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state.get("config") != repr(config):
            raise CommandError(f"{checkpoint} was written by a different recipe or settings; delete it to restart")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        batches.set_state(state["batches"])
        torch.set_rng_state(state["torch_rng"])
        start_step, elapsed, history = state["step"], state["seconds"], state["history"]
        best, best_step, best_dev = state["best"], state["best_step"], state["best_dev"]

    xtr, ytr = windows.train.x, windows.train.y
    bar = tqdm(total=config.steps, initial=start_step, disable=not progress, unit="step", dynamic_ncols=True)
    started = time.perf_counter() - elapsed
    model.train()
    for step in range(start_step, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        # batch_size examples per member: each member learns from its own share.
        ix = torch.randint(0, xtr.shape[0], (config.batch_size * config.model.n_members,), generator=batches)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16_autocast):
            loss = model.training_loss(xtr[ix], ytr[ix])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        bar.update(1)

        last = step + 1 == config.steps
        over_budget = time_budget is not None and time.perf_counter() - started > time_budget
        over_budget = over_budget or (stop is not None and stop())
        if (step + 1) % config.eval_interval == 0 or last or over_budget:
            history.append(evaluation(model, windows, step + 1, started))
            dev, train_loss = history[-1]["dev_loss"], history[-1]["train_loss"]
            if dev < best_dev:
                best, best_step, best_dev = copy.deepcopy(model.state_dict()), step + 1, dev
            bar.set_postfix(train=f"{train_loss:.4f}", dev=f"{dev:.4f}", best=f"{best_dev:.4f}")
            if checkpoint is not None:
                save_atomically(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "batches": batches.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "step": step + 1,
                        "config": repr(config),
                        "seconds": time.perf_counter() - started,
                        "history": history,
                        "best": best,
                        "best_step": best_step,
                        "best_dev": best_dev,
                    },
                    checkpoint,
                )
            if over_budget or (on_evaluation is not None and on_evaluation(step + 1, dev)):
                break
    bar.close()
    model.load_state_dict(best)
    model.eval()
    return TrainResult(model, best_step, loss_on(model, xtr, ytr), best_dev, time.perf_counter() - started, history)


MIN_WORDS = 10  # the 80/10/10 split leaves dev and test empty below this
MAX_SEED = 2**64 - 1  # torch generators take an unsigned 64-bit seed


def parse_args(argv: list[str] | None = None, prog: str = "python -m training.train") -> argparse.Namespace:
    recipe_steps = ", ".join(f"{name} {RECIPES[name]().steps}" for name in sorted(RECIPES))
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=HelpFormatter, allow_abbrev=False)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="training words: UTF-8, one item per line")
    p.add_argument(
        "--column",
        metavar="NAME_OR_INDEX",
        help="read this column of a table (a header's name, any case, or a position from 1); .csv and .tsv files "
        "are tables without it (default: the column named like 'name', else the first)",
    )
    p.add_argument("--lowercase", action="store_true", help="lower-case every item (Smith and smith: one name)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="default", help="named settings (training/recipes.py)")
    p.add_argument(
        "--out",
        type=Path,
        help=f"model file to write; card and plots go beside it (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--steps", type=int, help=f"optimizer steps, at least 1 (default: the recipe's: {recipe_steps})")
    p.add_argument("--seed", type=int, help=f"0 ... 2**64-1 (default: the recipe's, {RECIPES['default']().seed})")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", help="continue from <out>.ckpt if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.add_argument(
        "--reexport",
        type=Path,
        metavar="WEIGHTS",
        help="no training: export the weights a run kept in <out>.trained.pt when its export failed or Ctrl-C "
        "stopped it (--out defaults to WEIGHTS without .trained)",
    )
    return p.parse_args(argv)


def configure(args: argparse.Namespace) -> TrainConfig:
    """The recipe with the command line's overrides, refused up front when a run could not give a finite loss."""
    if args.steps is not None and args.steps < 1:
        raise CommandError(f"--steps must be at least 1 (got {args.steps}): no step, no dev loss to report")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise CommandError(f"--seed must be 0 ... 2**64-1 (got {args.seed})")
    if args.threads is not None and args.threads < 0:
        raise CommandError(f"--threads must be 0 (torch's choice) or more (got {args.threads})")
    check_out(args.out)
    config = RECIPES[args.recipe]()
    if args.steps is not None:
        config.steps = args.steps
        config.eval_interval = min(config.eval_interval, args.steps)
        config.warmup_steps = min(config.warmup_steps, args.steps)
    if args.seed is not None:
        config.seed = args.seed
    if args.threads is not None:
        config.threads = args.threads
    return config


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (for the model card), with the options that change its result."""
    parts = ["namegen train", f"--recipe {args.recipe}", f"--data {args.data}", f"--out {args.out}"]
    parts += [
        f"--{name} {getattr(args, name)}" for name in ("column", "steps", "seed") if getattr(args, name) is not None
    ]
    return " ".join(parts + (["--lowercase"] if args.lowercase else []))


def run(args: argparse.Namespace) -> None:
    from training.export import save_trained, trained_meta  # export pulls in plotting; keep train lean

    if args.reexport is not None:
        return reexport(args.reexport, args.out)
    args.out = args.out or DEFAULT_MODEL
    config = configure(args)
    loaded = load_words(args.data, args.column, args.lowercase)
    words = loaded.words
    if len(words) < MIN_WORDS:
        count = f"{len(words)} item" + ("" if len(words) == 1 else "s")
        raise CommandError(f"{shown(args.data)}: {count}; the 80/10/10 split needs at least {MIN_WORDS}")
    print(loaded.summary, *loaded.notes, sep="\n")
    vocab = Vocabulary.from_words(words)
    config.model.vocab_size = vocab.size
    windows = SplitWindows.build(reference_split(words), vocab, config.model.block_size)
    print(
        f"vocabulary {vocab.size} (the boundary '.' included), windows "
        f"train {len(windows.train):,} / dev {len(windows.dev):,} / test {len(windows.test):,}"
    )
    checkpoint = args.out.with_suffix(".ckpt") if args.resume else None
    with CtrlC() as ctrl_c:
        result = train(
            config, windows, checkpoint=checkpoint, progress=not args.no_progress, stop=ctrl_c.pressed.is_set
        )
    # The test split is looked at once, here, after every choice was made on dev.
    test_loss = loss_on(result.model, windows.test.x, windows.test.y)
    print(
        f"best step {result.best_step}: train {result.train_loss:.4f}  dev {result.dev_loss:.4f}  "
        f"test {test_loss:.4f}  ({result.seconds:.0f} s)"
    )
    if result.best_step == 0 or not all(map(math.isfinite, (result.dev_loss, test_loss))):
        # A diverged run (NaN at every evaluation) would write a card reading "dev inf": keep the old file.
        raise CommandError(
            f"the dev or test loss is not finite (training diverged): {args.out} not written", EXIT_FAILED
        )
    # The weights are saved before the export so that no failure there loses the run.
    weights = args.out.with_suffix(TRAINED_WEIGHTS_SUFFIX)
    meta = trained_meta(result, test_loss, config, args.recipe, vocab, words, args.data, windows, command_line(args))
    try:
        save_trained(result.model, meta, words, weights)
    except OSError as exc:
        raise CommandError(
            f"{shown(weights)}: cannot be written ({exc.strerror}): the trained model is lost", EXIT_FAILED
        ) from None
    if ctrl_c.pressed.is_set():
        stopped = result.history[-1]["step"]
        raise CommandError(
            f"stopped by Ctrl-C at step {stopped:,} of {config.steps:,}: the best weights so far (step "
            f"{result.best_step:,}) are in {shown(weights)}; {reexport_command(weights, args.out)} exports them"
            + ("; --resume continues the run" if checkpoint is not None else ""),
            EXIT_INTERRUPTED,
        )
    export_or_keep(result.model, meta, words, weights, args.out)
    weights.unlink()
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    print(f"wrote {args.out}")


def main(argv: list[str] | None = None, prog: str = "python -m training.train") -> int:
    args = parse_args(argv, prog)
    try:
        run(args)
    except DataError as exc:
        return fail(str(exc))
    except CommandError as exc:
        return fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return fail("stopped by Ctrl-C: nothing written", EXIT_INTERRUPTED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
