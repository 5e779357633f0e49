"""Training speed: the shipped `default` recipe against the lecture's plain SGD loop, in one run.

    .venv/bin/python benchmarks/bench_training.py [--quick] [--threads N] [--data PATH]

Prints, on the reference split of names.txt:
1. wall-clock seconds until the dev loss first reaches the target (2.10) for the default recipe
   (training.train.train()) and for the baseline, the lecture's MLP trained by the lecture's own loop
   (raw tensors, p.data -= lr * p.grad, 200k steps of 32, lr 0.1 then 0.01); their ratio is the
   headline. The lecture's model usually ends near 2.13-2.17 and never reaches 2.10: then the
   figure compared is the time each needs to reach the lecture's own best dev loss, and it says so.
   Both clocks include their periodic dev evaluations.
2. final dev/test losses of both;
3. training steps per second and where a step's time goes (sampling a batch, forward + loss,
   backward, optimizer), from perf counters and a torch.profiler op table, with the threads used.
`--quick` shortens everything (1,000 default steps, 20,000 lecture steps) to check the script runs;
its losses are far from the full run's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from training.data import Vocabulary, read_words, reference_split
from training.model import NameMLP, loss_on
from training.recipes import default, lecture
from training.train import SplitWindows, make_optimizer, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"


@dataclass
class Curve:
    name: str
    points: list[tuple[int, float, float]]  # (step, seconds since start, dev loss)
    dev_loss: float  # of the weights kept at the end
    test_loss: float
    steps: int

    def seconds_to(self, target: float) -> float | None:
        return next((s for _, s, dev in self.points if dev <= target), None)

    @property
    def best(self) -> float:
        return min(dev for _, _, dev in self.points)


def run_default(windows: SplitWindows, steps: int | None, eval_interval: int, threads: int) -> Curve:
    config = default()
    config.model.vocab_size = 27
    if steps is not None:
        config.steps = steps
    config.eval_interval, config.threads = eval_interval, threads
    result = train(config, windows, progress=False)
    points = [(int(h["step"]), h["seconds"], h["dev_loss"]) for h in result.history]
    test = loss_on(result.model, windows.test.x, windows.test.y)
    return Curve("default recipe", points, result.dev_loss, test, config.steps)


class LectureMLP:
    """The lecture's network as bare tensors, initialised as in the lecture (plain randn, no fixes)."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int, n_hidden: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.C = torch.randn((vocab_size, n_embd), generator=g)
        self.W1 = torch.randn((block_size * n_embd, n_hidden), generator=g)
        self.b1 = torch.randn(n_hidden, generator=g)
        self.W2 = torch.randn((n_hidden, vocab_size), generator=g)
        self.b2 = torch.randn(vocab_size, generator=g)
        self.parameters = [self.C, self.W1, self.b1, self.W2, self.b2]
        for p in self.parameters:
            p.requires_grad = True

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.C[x].view(x.shape[0], -1) @ self.W1 + self.b1)
        return h @ self.W2 + self.b2

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> float:
        with torch.no_grad():
            return F.cross_entropy(self.logits(x), y).item()


def run_lecture(windows: SplitWindows, steps: int | None, eval_interval: int) -> Curve:
    config = lecture()
    steps = steps or config.steps
    m = config.model
    net = LectureMLP(27, m.block_size, m.n_embd, m.n_hidden, config.seed)
    g = torch.Generator().manual_seed(config.seed)
    xtr, ytr = windows.train.x, windows.train.y
    points = []
    started = time.perf_counter()
    for step in range(steps):
        ix = torch.randint(0, xtr.shape[0], (config.batch_size,), generator=g)
        loss = F.cross_entropy(net.logits(xtr[ix]), ytr[ix])
        for p in net.parameters:
            p.grad = None
        loss.backward()
        lr = config.lr if step < steps // 2 else config.lr / 10
        for p in net.parameters:
            p.data += -lr * p.grad  # type: ignore[operator]
        if (step + 1) % eval_interval == 0 or step + 1 == steps:
            points.append((step + 1, time.perf_counter() - started, net.loss(windows.dev.x, windows.dev.y)))
    # The lecture keeps its final weights (no best-on-dev selection).
    return Curve("lecture loop (baseline)", points, points[-1][2], net.loss(windows.test.x, windows.test.y), steps)


@dataclass
class StepProfile:
    steps_per_second: float
    phases: dict[str, float]  # mean milliseconds per step


def time_steps(step_parts: list[tuple[str, Callable[[], None]]], steps: int, warmup: int = 10) -> StepProfile:
    for _ in range(warmup):
        for _, part in step_parts:
            part()
    totals = dict.fromkeys((name for name, _ in step_parts), 0.0)
    started = time.perf_counter()
    for _ in range(steps):
        for name, part in step_parts:
            t = time.perf_counter()
            part()
            totals[name] += time.perf_counter() - t
    elapsed = time.perf_counter() - started
    return StepProfile(steps / elapsed, {k: 1000 * v / steps for k, v in totals.items()})


def default_step_parts(windows: SplitWindows) -> list[tuple[str, Callable[[], None]]]:
    """One default-recipe training step cut into its phases (state carried between them)."""
    config = default()
    config.model.vocab_size = 27
    torch.manual_seed(0)
    model = NameMLP(config.model).train()
    optimizer = make_optimizer(config, model)
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}

    def sample() -> None:
        # As train() does: batch_size examples per member, each member learning from its own share.
        ix = torch.randint(0, len(windows.train), (config.batch_size * config.model.n_members,), generator=g)
        state["x"], state["y"] = windows.train.x[ix], windows.train.y[ix]

    def forward() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16_autocast):
            state["loss"] = model.training_loss(state["x"], state["y"])

    def backward() -> None:
        optimizer.zero_grad(set_to_none=True)
        state["loss"].backward()

    return [
        ("sample batch", sample),
        ("forward + loss", forward),
        ("backward", backward),
        ("optimizer (fused AdamW)", optimizer.step),
    ]


def op_table(step_parts: list[tuple[str, Callable[[], None]]], steps: int, rows: int = 8) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            for _, part in step_parts:
                part()
    return str(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40))


def report_speed(curves: tuple[Curve, Curve], target: float) -> None:
    fast, base = curves
    print(f"\n== Time to dev loss <= {target} (seconds, evaluations included) ==")
    for c in curves:
        reached = c.seconds_to(target)
        shown = f"{reached:8.1f} s" if reached is not None else "  never  "
        print(f"{c.name:<26} {shown}   best dev {c.best:.4f} over {c.steps} steps ({c.points[-1][1]:.0f} s)")
    fast_t, base_t = fast.seconds_to(target), base.seconds_to(target)
    if fast_t is not None and base_t is not None:
        print(f"ratio lecture / default = {base_t / fast_t:.2f} (above 1: the default recipe gets there sooner)")
        return
    if base_t is None:
        own = base.best
        base_own, fast_own = base.seconds_to(own), fast.seconds_to(own)
        print(f"the lecture loop never reached {target}: compared instead at its own best dev loss, {own:.4f}")
        print(f"  lecture loop reached {own:.4f} after {base_own:.1f} s")
        if fast_own is not None and base_own is not None:
            print(f"  default recipe reached {own:.4f} after {fast_own:.1f} s")
            print(
                f"ratio lecture / default = {base_own / fast_own:.2f} (above 1: the default recipe gets there sooner)"
            )
        else:
            print(f"  default recipe never reached {own:.4f} in this run")
    if fast_t is None:
        print(f"the default recipe did not reach {target} in {fast.steps} steps (use the full run, not --quick)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--quick", action="store_true", help="short runs, to check the script (losses not meaningful)")
    p.add_argument("--target", type=float, default=2.10, help="dev loss to reach (default 2.10)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--default-steps", type=int, help="override the default recipe's steps")
    p.add_argument("--lecture-steps", type=int, help="override the lecture loop's 200,000 steps")
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"error: {args.data}: not found (python -m training.download fetches it)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    default_steps = args.default_steps or (1_000 if args.quick else None)
    lecture_steps = args.lecture_steps or (20_000 if args.quick else None)

    words = read_words(args.data)
    vocab = Vocabulary.from_words(words)
    split = reference_split(words)
    print(
        f"{args.data}: {len(words)} words; torch {torch.__version__}, {torch.get_num_threads()} intra-op / "
        f"{torch.get_num_interop_threads()} inter-op threads, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start (the machine may be shared)"
    )
    fast_windows = SplitWindows.build(split, vocab, default().model.block_size)
    base_windows = SplitWindows.build(split, vocab, lecture().model.block_size)

    fast = run_default(fast_windows, default_steps, 100 if args.quick else 500, args.threads)
    base = run_lecture(base_windows, lecture_steps, 1_000 if args.quick else 5_000)
    report_speed((fast, base), args.target)

    print("\n== Final losses (nats/char, reference split) ==")
    for c in (fast, base):
        print(f"{c.name:<26} dev {c.dev_loss:.4f}   test {c.test_loss:.4f}")

    print("\n== Steps per second ==")
    parts = default_step_parts(fast_windows)
    profile = time_steps(parts, 30 if args.quick else 200)
    net = LectureMLP(27, 3, 10, 200, 0)
    lecture_profile = time_steps(
        [("lecture step", lambda: lecture_step(net, base_windows))], 200 if args.quick else 2000
    )
    print(
        f"default recipe: {profile.steps_per_second:7.1f} steps/s (batch {default().batch_size} per member x "
        f"{default().model.n_members}, "
        f"{NameMLP(default().model).num_parameters():,} parameters)"
    )
    print(
        f"lecture loop:   {lecture_profile.steps_per_second:7.1f} steps/s "
        f"(batch {lecture().batch_size}, {sum(p.numel() for p in net.parameters):,} parameters)"
    )
    total = sum(profile.phases.values())
    print("\nwhere a default-recipe step goes (perf counters):")
    for name, ms in profile.phases.items():
        print(f"  {name:<20} {ms:7.2f} ms  {100 * ms / total:5.1f} %")
    print(f"\ntop operators, {10 if args.quick else 50} default-recipe steps under torch.profiler (self CPU time):")
    print(op_table(parts, 10 if args.quick else 50))
    return 0


def lecture_step(net: LectureMLP, windows: SplitWindows) -> None:
    ix = torch.randint(0, len(windows.train), (32,))
    loss = F.cross_entropy(net.logits(windows.train.x[ix]), windows.train.y[ix])
    for p in net.parameters:
        p.grad = None
    loss.backward()
    for p in net.parameters:
        p.data += -0.01 * p.grad  # type: ignore[operator]


if __name__ == "__main__":
    sys.exit(main())
