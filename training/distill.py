"""Distil a trained ensemble into one MLP: the same quality at a third of the network's cost per context.

    python -m training.distill --teacher model_artifacts/names-mlp.pt \
        --teacher-weights training/checkpoints/names-mlp.trained.pt --out model_artifacts/names-mlp-one.pt

The teacher (a NameMLP, usually several members) labels two sets of contexts with its whole next-token
distribution: every window of the training split, and every context of names it samples itself (fresh
name-like data in any amount, which the 25k training names cannot give). The student, one member initialised
from the teacher's first, learns those distributions (cross-entropy against soft targets). The dev split is
only evaluated, with its real next characters, to pick the best step; the test split once at the end.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from app.engine.artifact import ArtifactError, trained_weights_file
from training.command import EXIT_FAILED, CommandError, HelpFormatter, fail
from training.data import DEFAULT_DATA, Vocabulary, read_words, reference_split
from training.export import TrainedArtifact, export_artifact, load_trained, reexport_served, save_trained
from training.model import ModelConfig, NameMLP, ServedNameMLP, loss_on
from training.recipes import TrainConfig, default
from training.train import SplitWindows, TrainResult, evaluation, learning_rate, make_optimizer

MAX_NAME_STEPS = 64  # a sampled name stops here even without an end token (it never did in practice)


def distill_training() -> TrainConfig:
    """The default recipe's optimizer and schedule, at a lower peak rate (the student starts trained), larger
    batches, and float32 (bfloat16 pays only on CPUs with AVX512-BF16)."""
    config = default()
    config.steps, config.batch_size, config.lr = 60_000, 512, 1e-3
    config.eval_interval, config.seed, config.bf16_autocast = 2_000, 1337, False
    return config


@dataclass
class DistillConfig:
    # The student's training; its model (the teacher's shape, one member) is set by student_from.
    train: TrainConfig = field(default_factory=distill_training)
    sampled_names: int = 1_000_000  # names the teacher samples for its contexts
    dropout: float = 0.1  # lighter than the teacher's: the sampled contexts are plentiful
    init_member: int = 0  # the teacher member whose weights the student starts from; -1: random start


def load_teacher(artifact: Path, weights: Path | None) -> TrainedArtifact:
    """The teacher: the trained NameMLP behind `artifact` (export.load_trained), refused in one line when the
    weights are not a NameMLP's (a serving-layout artifact without --teacher-weights) or a file is not a model."""
    try:
        return load_trained(artifact, weights)
    except ArtifactError as exc:
        raise CommandError(str(exc)) from None
    except RuntimeError as exc:
        raise CommandError(f"{weights or artifact}: not a NameMLP's trained weights ({exc})") from None


@torch.no_grad()
def teacher_samples(
    served: ServedNameMLP, names: int, generator: torch.Generator, batch: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every context of `names` names sampled from the teacher (`served`: its serving layout; temperature 1), with
    the teacher's next-token probabilities there: ((M, block_size) uint8 token ids, (M, vocab_size) float32
    probabilities)."""
    block = served.block_size
    contexts, targets = [], []
    for start in range(0, names, batch):
        rows = min(batch, names - start)
        context = torch.zeros((rows, block), dtype=torch.long)
        for _ in range(MAX_NAME_STEPS):
            probs = served(context).exp()
            contexts.append(context.to(torch.uint8))
            targets.append(probs)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            alive = nxt != 0
            if not bool(alive.any()):
                break
            context = torch.cat([context[alive, 1:], nxt[alive, None]], dim=1)
    return torch.cat(contexts), torch.cat(targets)


@torch.no_grad()
def teacher_targets(served: ServedNameMLP, x: torch.Tensor, batch: int = 65536) -> torch.Tensor:
    return torch.cat([served(x[i : i + batch]).exp() for i in range(0, len(x), batch)])


def student_from(teacher: NameMLP, shape: ModelConfig, config: DistillConfig) -> NameMLP:
    """One member shaped like the teacher's (`shape`: the teacher's config), with `config.dropout`, starting from
    the teacher's member `config.init_member` (or at random for -1). Its model config goes into `config.train`."""
    config.train.model = dataclasses.replace(shape, n_members=1, dropout=config.dropout)
    torch.manual_seed(config.train.seed)
    student = NameMLP(config.train.model)
    if config.init_member >= 0:
        student.members[0].load_state_dict(teacher.members[config.init_member].state_dict())
    return student


def distill(
    config: DistillConfig, student: NameMLP, x: torch.Tensor, p: torch.Tensor, windows: SplitWindows, progress: bool
) -> TrainResult:
    """Minibatches of (context, teacher distribution) pairs; the best weights on the dev split's real data."""
    train = config.train
    optimizer = make_optimizer(train, student)
    batches = torch.Generator().manual_seed(train.seed)
    best, best_step, best_dev = copy.deepcopy(student.state_dict()), 0, loss_on(student, windows.dev.x, windows.dev.y)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    bar = tqdm(total=train.steps, disable=not progress, unit="step", dynamic_ncols=True)
    student.train()
    for step in range(train.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(train, step)
        ix = torch.randint(0, len(x), (train.batch_size,), generator=batches)
        logits = student(x[ix].long())
        loss = -(p[ix] * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        bar.update(1)
        if (step + 1) % train.eval_interval == 0 or step + 1 == train.steps:
            history.append(evaluation(student, windows, step + 1, started))
            dev = history[-1]["dev_loss"]
            if dev < best_dev:
                best, best_step, best_dev = copy.deepcopy(student.state_dict()), step + 1, dev
            bar.set_postfix(soft=f"{loss.item():.4f}", dev=f"{dev:.4f}", best=f"{best_dev:.4f}")
    bar.close()
    student.load_state_dict(best)
    student.eval()
    train_loss = loss_on(student, windows.train.x, windows.train.y)
    return TrainResult(student, best_step, train_loss, best_dev, time.perf_counter() - started, history)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = DistillConfig()
    p = argparse.ArgumentParser(
        prog="python -m training.distill", description=__doc__, formatter_class=HelpFormatter, allow_abbrev=False
    )
    p.add_argument("--teacher", type=Path, required=True, help="the teacher's artifact (its meta gives the shape)")
    p.add_argument("--teacher-weights", type=Path, help="its NameMLP weights, when the artifact is in serving layout")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the words the teacher was trained on")
    p.add_argument("--out", type=Path, required=True, help="the student's model file")
    p.add_argument("--steps", type=int, default=defaults.train.steps)
    p.add_argument("--names", type=int, default=defaults.sampled_names, help="names the teacher samples")
    p.add_argument("--dropout", type=float, default=defaults.dropout)
    p.add_argument("--lr", type=float, default=defaults.train.lr)
    p.add_argument("--init-member", type=int, default=defaults.init_member, help="-1: a random start")
    p.add_argument("--seed", type=int, default=defaults.train.seed)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def command_line(args: argparse.Namespace) -> str:
    parts = [f"python -m training.distill --teacher {args.teacher}"]
    if args.teacher_weights:
        parts.append(f"--teacher-weights {args.teacher_weights}")
    parts += [f"--data {args.data}", f"--out {args.out}", f"--steps {args.steps}", f"--names {args.names}"]
    parts += [f"--dropout {args.dropout}", f"--lr {args.lr}", f"--init-member {args.init_member}"]
    parts.append(f"--seed {args.seed}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> None:

    if args.threads:
        torch.set_num_threads(args.threads)
    config = DistillConfig(sampled_names=args.names, dropout=args.dropout, init_member=args.init_member)
    config.train.steps, config.train.lr, config.train.seed = args.steps, args.lr, args.seed
    config.train.eval_interval = min(config.train.eval_interval, args.steps)
    loaded = load_teacher(args.teacher, args.teacher_weights)
    teacher, shape, meta = loaded.model, loaded.shape, loaded.meta
    words = read_words(args.data)
    vocab = Vocabulary.from_words(words)
    if vocab.chars != meta.vocab:
        raise CommandError(f"{args.data}: its vocabulary is not the teacher's")
    split = reference_split(words)
    windows = SplitWindows.build(split, vocab, teacher.block_size)
    teacher_dev = loss_on(teacher, windows.dev.x, windows.dev.y)
    began = time.perf_counter()
    served = ServedNameMLP(teacher).eval()  # the same function in fewer, larger ops: several times faster
    sampled_x, sampled_p = teacher_samples(served, config.sampled_names, torch.Generator().manual_seed(args.seed))
    x = torch.cat([windows.train.x.to(torch.uint8), sampled_x])
    p = torch.cat([teacher_targets(served, windows.train.x), sampled_p])
    print(
        f"teacher dev {teacher_dev:.4f}; {len(windows.train)} training windows + {len(sampled_x)} contexts of "
        f"{config.sampled_names} sampled names, labelled in {time.perf_counter() - began:.0f} s"
    )
    student = student_from(teacher, shape, config)
    result = distill(config, student, x, p, windows, progress=not args.no_progress)
    test_loss = loss_on(result.model, windows.test.x, windows.test.y)
    print(
        f"best step {result.best_step}: train {result.train_loss:.4f}  dev {result.dev_loss:.4f}  "
        f"test {test_loss:.4f}  ({result.seconds:.0f} s)"
    )
    if not all(map(math.isfinite, (result.dev_loss, test_loss))):
        raise CommandError(f"the dev or test loss is not finite: {args.out} not written", EXIT_FAILED)
    exported = export_artifact(
        result, test_loss, config.train, "distilled", vocab, words, args.data, windows, args.out, command_line(args)
    )
    # The trained weights, kept beside the artifact (what re-exports it), then the artifact in the shipped
    # precision: int8 after the first layer, its dev and test losses recomputed through the service's scorer.
    weights = trained_weights_file(args.out)
    save_trained(result.model, exported, words, weights)
    meta = reexport_served(args.out, args.data, int8=True, weights=weights)
    print(f"wrote {args.out} (int8: dev {meta.dev_loss:.5f}, test {meta.test_loss:.5f}) and {weights}")


def main(argv: list[str] | None = None) -> int:
    try:
        run(parse_args(argv))
    except CommandError as exc:
        return fail(str(exc), exc.code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
