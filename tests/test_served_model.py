"""training.model.ServedNameMLP: the serving layout computes the trained NameMLP's function, scripted."""

from __future__ import annotations

import pytest
import torch

from training.model import Int8Linear, ModelConfig, NameMLP, ServedNameMLP

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


def test_int8_layers_stay_close_to_the_trained_model_and_row_independent() -> None:
    # Wide enough for int8 rounding to average out over each dot product, as in the shipped 1024 -> 256 layers.
    config = ModelConfig(
        vocab_size=27, block_size=4, n_embd=8, n_hidden=512, n_layers=2, deep_width=128, layer_norm=True, n_members=3
    )
    torch.manual_seed(7)
    model = NameMLP(config).eval()
    with torch.no_grad():  # non-trivial norms; a head giving logits of a unit or so (random features are
        # far more sensitive to rounding than trained ones, so a sharper random head would exaggerate it)
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.copy_(0.5 * torch.randn_like(parameter) + (1 if name.endswith("weight") else 0))
            elif "head.weight" in name:
                parameter.copy_(torch.randn_like(parameter) / parameter.shape[1] ** 0.5)
    served = torch.jit.script(ServedNameMLP(model, int8=True).eval())
    idx = torch.randint(0, config.vocab_size, (500, config.block_size))
    with torch.no_grad():
        trained = model(idx)
        int8 = served(idx)
        divergence = (trained.exp() * (trained - int8)).sum(dim=1)
        assert float(divergence.max()) < 0.01  # nats: the export's own bound (INT8_TOLERANCE)
        assert float(divergence.mean()) > 0  # it is int8: not the float32 function exactly


def test_an_int8_rows_output_does_not_depend_on_the_rest_of_its_batch() -> None:
    # Dynamic quantization would scale the inputs by the batch's range; here the scale is fixed.
    torch.manual_seed(8)
    linear = Int8Linear(torch.randn(64, 256) / 16, torch.randn(64))
    x = torch.rand(32, 256)
    others = torch.cat([x[:8], 0.01 * torch.rand(24, 256)])  # the same first rows among much smaller ones
    with torch.no_grad():
        assert torch.equal(linear(others)[:8], linear(x)[:8])
        reference = x[:8] @ linear.packed.unpack()[0].dequantize().T + linear.packed.unpack()[1]
        assert torch.allclose(linear(x[:8]), reference, atol=0.01)  # within a few rounding steps of the inputs
