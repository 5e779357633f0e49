"""Named training recipes: plain dataclasses, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.model import ModelConfig


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 200_000
    batch_size: int = 32
    optimizer: str = "sgd"  # "sgd" (the lecture's loop) or "adamw"
    lr: float = 0.1
    # "step": lr, then lr/10 from half-way (the lecture); "cosine": warm-up then cosine to lr*final_lr_ratio
    schedule: str = "step"
    warmup_steps: int = 0
    final_lr_ratio: float = 0.01
    weight_decay: float = 0.0
    eval_interval: int = 10_000
    seed: int = 2147483647  # the lecture's generator seed
    threads: int = 0  # 0: torch's default
    # Forward matmuls in bfloat16 (torch.autocast; weights, optimizer and evaluation stay float32). On CPUs with
    # AVX512-BF16 (these machines) a step is faster; elsewhere it is emulated and slower.
    bf16_autocast: bool = False


def lecture() -> TrainConfig:
    """The makemore part-2 MLP: context 3, embedding 10, hidden 200, SGD 0.1 -> 0.01."""
    return TrainConfig(model=ModelConfig(block_size=3, n_embd=10, n_hidden=200))


def default() -> TrainConfig:
    """The shipped recipe (chosen on dev; see docs/experiments.md): three MLPs, each with a wide first
    layer (free at sampling time) and a narrow second one, trained side by side and averaged."""
    return TrainConfig(
        model=ModelConfig(
            block_size=8,
            n_embd=32,
            n_hidden=1024,
            n_layers=2,
            deep_width=256,
            layer_norm=True,
            dropout=0.4,
            n_members=3,
        ),
        steps=20_000,
        batch_size=256,
        optimizer="adamw",
        lr=3e-3,
        schedule="cosine",
        warmup_steps=300,
        weight_decay=0.1,
        eval_interval=1_000,
        bf16_autocast=True,
    )


def compact() -> TrainConfig:
    """A small single MLP for a second, larger data set (the shipped us-surnames model): the default recipe's
    context and training, a quarter of its width, one member, lighter dropout (more data, less overfitting)."""
    config = default()
    config.model = ModelConfig(
        block_size=8, n_embd=24, n_hidden=512, n_layers=2, deep_width=128, layer_norm=True, dropout=0.2
    )
    return config


RECIPES = {"lecture": lecture, "default": default, "compact": compact}
