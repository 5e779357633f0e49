"""training/distill.py: an ensemble's distributions taught to one MLP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from training.command import CommandError
from training.data import ContextWindows, Vocabulary
from training.distill import DistillConfig, distill, load_teacher, student_from, teacher_samples, teacher_targets
from training.export import load_trained
from training.model import MemberMLP, ModelConfig, NameMLP, ServedNameMLP
from training.train import SplitWindows

REPO = Path(__file__).resolve().parent.parent
WORDS = ["anna", "bob", "cleo", "dan", "ella", "finn", "gus", "hana", "ivo", "june", "kai", "lea"]


SHAPE = ModelConfig(
    vocab_size=Vocabulary.from_words(WORDS).size,
    block_size=3,
    n_embd=4,
    n_hidden=16,
    n_layers=2,
    deep_width=8,
    layer_norm=True,
    dropout=0.4,
    n_members=3,
)


def tiny_teacher(seed: int = 0) -> NameMLP:
    torch.manual_seed(seed)
    teacher = NameMLP(SHAPE).eval()
    with torch.no_grad():
        for member in teacher.members:
            assert isinstance(member, MemberMLP)
            member.head.weight.normal_(0.0, 1.0)  # members that disagree (a fresh head is near-uniform)
    return teacher


def windows() -> SplitWindows:
    vocab = Vocabulary.from_words(WORDS)
    return SplitWindows(*(ContextWindows.build(ws, vocab, 3) for ws in (WORDS[:8], WORDS[8:10], WORDS[10:])))


def test_the_student_starts_as_the_teachers_chosen_member() -> None:
    teacher = tiny_teacher()
    student = student_from(teacher, SHAPE, DistillConfig(init_member=1)).eval()
    x = windows().train.x
    with torch.no_grad():
        expected = torch.log_softmax(teacher.members[1](x), dim=-1)
        assert torch.equal(student(x), expected)


def test_the_student_has_one_member_and_the_configured_dropout() -> None:
    config = DistillConfig(dropout=0.15)
    student = student_from(tiny_teacher(), SHAPE, config)
    assert len(student.members) == 1
    assert config.train.model.n_members == 1
    assert config.train.model.dropout == 0.15
    assert (config.train.model.n_hidden, config.train.model.deep_width, config.train.model.n_layers) == (16, 8, 2)


def test_sampled_contexts_carry_the_teachers_distribution_there() -> None:
    teacher = tiny_teacher()
    contexts, probs = teacher_samples(ServedNameMLP(teacher).eval(), 50, torch.Generator().manual_seed(3), batch=16)
    assert contexts.dtype == torch.uint8 and contexts.shape[1] == 3
    with torch.no_grad():
        assert torch.allclose(probs, teacher(contexts.long()).exp(), atol=1e-5)
    assert torch.allclose(probs.sum(dim=1), torch.ones(len(probs)), atol=1e-5)
    # Every name starts from the all-boundary context: one such context per sampled name.
    assert int((contexts == 0).all(dim=1).sum()) == 50


@pytest.mark.training
def test_distilling_brings_the_student_closer_to_the_teacher() -> None:
    teacher = tiny_teacher()
    data = windows()
    config = DistillConfig(dropout=0.0)
    config.train.steps, config.train.batch_size, config.train.lr, config.train.eval_interval = 300, 64, 1e-2, 100
    student = student_from(teacher, SHAPE, config)
    x = data.train.x
    p = teacher_targets(ServedNameMLP(teacher).eval(), x)

    def divergence() -> float:
        student.eval()
        with torch.no_grad():
            return float((p * (p.log() - torch.log_softmax(student(x), dim=1))).sum(dim=1).mean())

    before = divergence()
    distill(config, student, x.to(torch.uint8), p, data, progress=False)
    after = divergence()
    assert before > 0.01
    assert after < before / 2


def test_a_served_artifact_without_its_trained_weights_is_refused_as_teacher() -> None:
    with pytest.raises(CommandError, match="not a NameMLP's trained weights"):
        load_teacher(REPO / "model_artifacts" / "names-mlp.pt", None)


@pytest.mark.training
def test_the_command_writes_an_int8_one_member_artifact_and_its_trained_weights(tmp_path: Path) -> None:
    from training.data import DEFAULT_DATA
    from training.distill import main

    out = tmp_path / "one.pt"
    argv = ["--teacher", str(REPO / "model_artifacts" / "names-mlp.pt")]
    argv += ["--teacher-weights", str(REPO / "training" / "checkpoints" / "names-mlp.trained.pt")]
    argv += ["--data", str(DEFAULT_DATA), "--out", str(out), "--names", "100", "--steps", "2", "--no-progress"]
    assert main(argv) == 0
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["recipe"] == "distilled"
    assert card["hyperparameters"]["n_members"] == 1
    assert card["served"]["precision"].startswith("int8")
    assert card["command"].startswith("python -m training.distill --teacher ")
    trained = load_trained(out, out.with_suffix(".trained.pt"))  # the weights fit the shape the card records
    assert trained.model.num_parameters() == card["parameters"]
