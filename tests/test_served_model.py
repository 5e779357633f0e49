"""training.model.ServedNameMLP: the serving layout computes the trained NameMLP's function, scripted."""

from __future__ import annotations

import pytest
import torch

from training.export import relaid
from training.model import HiddenBlock, ModelConfig, NameMLP, ServedNameMLP, StackedBlock, tiled_baddbmm

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


def int8_block(inputs: int, outputs: int, members: int, seed: int) -> StackedBlock:
    torch.manual_seed(seed)
    blocks = [HiddenBlock(inputs, outputs, layer_norm=False, dropout=0.0) for _ in range(members)]
    return StackedBlock(blocks, int8=True)


def test_an_int8_rows_output_does_not_depend_on_the_rest_of_its_batch() -> None:
    # Dynamic quantization would scale the inputs by the batch's range; here the steps are fixed.
    block = int8_block(256, 64, members=2, seed=8)
    x = torch.rand(2, 32, 256)
    others = torch.cat([x[:, :8], 0.01 * torch.rand(2, 24, 256)], dim=1)  # the same first rows among smaller ones
    with torch.no_grad():
        assert torch.equal(block(others)[:, :8], block(x)[:, :8])


def test_int8_sums_are_the_exact_integer_products_of_the_rounded_inputs_and_weights() -> None:
    block = int8_block(1024, 16, members=3, seed=9)  # 1024 inputs, as in the shipped 1024 -> 256 layers
    x = torch.rand(3, 12, 1024)
    x[0, 0] = 1.0  # the largest sums the int8 layer can make: every input at its top level, the weights' sign
    block.weight[0, :, 0] = 127
    levels = torch.round(x * 127).long()
    sums = torch.einsum("mbi,mio->mbo", levels, block.weight.long())  # int64: exact, independent of any kernel
    expected = torch.sigmoid(2 * (block.bias.double() + sums.double() * block.output_scale.double()))
    for kernels in (True, False):
        block.use_int8_kernels(kernels)
        with torch.no_grad():
            assert torch.allclose(block(x).double(), expected, rtol=0, atol=1e-6)  # float32 rounding of a + sigmoid


def test_both_int8_multiplications_give_the_same_bits() -> None:
    """torch._int_mm (where the CPU has the instructions for its fast kernel) and the float32 product of the same
    whole numbers (elsewhere): exact integer sums both, so the choice at load time changes no output."""
    config = ModelConfig(vocab_size=27, block_size=4, n_embd=8, n_hidden=512, n_layers=3, deep_width=64, n_members=2)
    served = torch.jit.script(ServedNameMLP(trained_like(config, seed=10), int8=True).eval())
    idx = torch.randint(0, 27, (200, 4))
    with torch.no_grad():
        as_exported = served(idx)  # the per-call float32 conversion of the int8 weights
        served.use_int8_kernels(True)
        int_mm = served(idx)
        served.use_int8_kernels(False)
        float_product = served(idx)
    assert torch.equal(int_mm, as_exported) and torch.equal(float_product, as_exported)


def test_the_int8_layout_holds_plain_int8_tensors_and_calls_no_quantized_op() -> None:
    served = ServedNameMLP(trained_like(CONFIGS["ensemble-norm"], seed=11), int8=True)
    tensors = [t for module in served.modules() for t in vars(module).values() if isinstance(t, torch.Tensor)]
    assert served.deeper[0].weight.dtype == torch.int8
    assert not any(t.is_quantized for t in tensors)
    scripted = torch.jit.script(served.eval())
    graph = str(scripted.inlined_graph)  # forward, every submodule's call inlined
    assert "aten::_int_mm" in graph and "quantized::" not in graph


def test_a_float_rows_output_is_computed_in_four_row_products() -> None:
    bias, weight = torch.randn(2, 1, 27), torch.randn(2, 200, 27)
    x = torch.rand(2, 37, 200)  # 37 rows: padded to 40 inside, the padding dropped
    out = tiled_baddbmm(bias, x, weight)
    assert out.shape == (2, 37, 27)
    assert torch.allclose(out, torch.baddbmm(bias, x, weight), atol=1e-5)
    for m in range(2):  # every row as the one 4-row product it belongs to computes it
        tile = torch.baddbmm(bias[m], x[m, 36:37].expand(4, 200)[None], weight[m][None])[0, 0]
        assert torch.equal(out[m, 36], tile)


def test_a_float32_served_model_re_laid_from_its_own_tensors_computes_the_same_outputs() -> None:
    config = CONFIGS["one-member-norm"]
    served = torch.jit.script(ServedNameMLP(trained_like(config, seed=12)).eval())
    idx = torch.randint(0, config.vocab_size, (64, config.block_size))
    again = relaid(served, config, idx)
    with torch.no_grad():
        assert torch.equal(again(idx), served(idx))
        assert torch.equal(again.position_tables(), served.position_tables())


def test_an_int8_served_model_is_not_re_laid_without_its_trained_weights() -> None:
    config = CONFIGS["one-member-norm"]
    served = torch.jit.script(ServedNameMLP(trained_like(config, seed=13), int8=True).eval())
    with pytest.raises(ValueError, match="trained weights"):
        relaid(served, config, torch.zeros((4, config.block_size), dtype=torch.long))
