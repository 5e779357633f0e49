"""training.model.ServedNameMLP: the serving layout computes the trained NameMLP's function, scripted."""

from __future__ import annotations

import pytest
import torch

from training.model import ModelConfig, NameMLP, ServedNameMLP

CONFIGS = {
    "lecture": ModelConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=200),
    "ensemble-norm": ModelConfig(
        vocab_size=9, block_size=4, n_embd=5, n_hidden=32, n_layers=2, deep_width=8, layer_norm=True, n_members=3
    ),
    "deep-plain": ModelConfig(vocab_size=7, block_size=3, n_embd=4, n_hidden=16, n_layers=3, n_members=2),
    "one-member-norm": ModelConfig(vocab_size=6, block_size=2, n_embd=3, n_hidden=12, n_layers=2, layer_norm=True),
}


def trained_like(config: ModelConfig, seed: int) -> NameMLP:
    """Random weights with non-trivial norms and head (a fresh head is scaled down and norms are the identity),
    logits of a trained model's size (a few units)."""
    torch.manual_seed(seed)
    model = NameMLP(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.copy_(1 + 0.5 * torch.randn_like(parameter))
            elif "head.weight" in name:
                parameter.copy_(3 * torch.randn_like(parameter) / parameter.shape[1] ** 0.5)
            elif "head.bias" in name:
                parameter.copy_(torch.randn_like(parameter))
    return model


@pytest.mark.parametrize("name", CONFIGS)
def test_scripted_served_model_equals_the_trained_model(name: str) -> None:
    config = CONFIGS[name]
    model = trained_like(config, seed=len(name))
    served = torch.jit.script(ServedNameMLP(model).eval())
    idx = torch.randint(0, config.vocab_size, (300, config.block_size))
    pre = torch.randn(17, config.n_members * config.n_hidden)
    with torch.no_grad():
        assert torch.allclose(served(idx), model(idx), atol=1e-5, rtol=0)
        assert torch.allclose(served.position_tables(), model.position_tables(), atol=1e-6, rtol=0)
        assert torch.allclose(served.logits_from_first_layer(pre), model.logits_from_first_layer(pre), atol=1e-5)


def test_outputs_are_normalized_log_probabilities_of_the_mixture() -> None:
    model = trained_like(CONFIGS["ensemble-norm"], seed=5)
    served = ServedNameMLP(model)
    idx = torch.randint(0, 9, (40, 4))
    with torch.no_grad():
        members = [torch.softmax(member(idx), dim=1) for member in model.members]
        assert torch.allclose(served(idx).exp().sum(dim=1), torch.ones(40), atol=1e-5)
        assert torch.allclose(served(idx).exp(), torch.stack(members).mean(dim=0), atol=1e-6)


def test_it_holds_no_trainable_parameters_and_no_first_layer_weights() -> None:
    served = ServedNameMLP(trained_like(CONFIGS["ensemble-norm"], seed=6))
    assert list(served.parameters()) == []  # an inference layout
    tensors = [t for module in served.modules() for t in vars(module).values() if isinstance(t, torch.Tensor)]
    # The first layer exists only as the per-position tables; no (hidden, context * embedding) W1 is kept.
    assert served.tables.shape == (4, 9, 3 * 32)
    assert not any(t.shape[-2:] in ((32, 4 * 5), (4 * 5, 32)) for t in tensors)
    # The stacked deeper layer and head: (members, in, out), one batched matmul for all three members.
    assert served.deeper[0].weight.shape == (3, 32, 8)
    assert served.head_weight.shape == (3, 8, 9)
