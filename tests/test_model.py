"""training.model: the MLP's shapes, size, fast path and loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from training.model import MemberMLP, ModelConfig, NameMLP, WordDropout, loss_on


def test_the_lecture_configuration_has_11897_parameters() -> None:
    # 27x10 embedding + (30x200 + 200) hidden + (200x27 + 27) head, as in the lecture.
    model = NameMLP(ModelConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=200))
    assert model.num_parameters() == 27 * 10 + 30 * 200 + 200 + 200 * 27 + 27 == 11897


def test_forward_maps_contexts_to_one_row_of_logits_each() -> None:
    torch.manual_seed(0)
    model = NameMLP(ModelConfig(vocab_size=7, block_size=4, n_embd=3, n_hidden=16, n_layers=2))
    idx = torch.randint(0, 7, (5, 4))
    assert model(idx).shape == (5, 7)


def test_forward_is_embedding_concat_tanh_then_head_for_one_layer() -> None:
    torch.manual_seed(0)
    model = NameMLP(ModelConfig(vocab_size=5, block_size=2, n_embd=3, n_hidden=4)).eval()
    idx = torch.tensor([[0, 3], [4, 1]])
    member = model.members[0]
    assert isinstance(member, MemberMLP)
    emb = member.embedding.weight[idx].reshape(2, 6)
    hidden = member.first.linear
    logits = torch.tanh(emb @ hidden.weight.T + hidden.bias) @ member.head.weight.T + member.head.bias
    # The forward's logits are normalized (log-probabilities): the same softmax, the same cross-entropy.
    assert torch.allclose(model(idx), torch.log_softmax(logits, dim=1), atol=1e-6)


def test_two_members_average_their_probabilities() -> None:
    torch.manual_seed(3)
    model = NameMLP(ModelConfig(vocab_size=6, block_size=3, n_embd=4, n_hidden=8, n_members=2)).eval()
    idx = torch.randint(0, 6, (10, 3))
    with torch.no_grad():
        probs = [torch.softmax(member(idx), dim=1) for member in model.members]
        assert torch.allclose(torch.softmax(model(idx), dim=1), (probs[0] + probs[1]) / 2, atol=1e-6)


def test_each_member_trains_on_its_own_share_of_the_batch() -> None:
    torch.manual_seed(4)
    model = NameMLP(ModelConfig(vocab_size=6, block_size=3, n_embd=4, n_hidden=8, n_members=2)).eval()
    idx, y = torch.randint(0, 6, (10, 3)), torch.randint(0, 6, (10,))
    first, second = model.members
    own = [F.cross_entropy(first(idx[:5]), y[:5]), F.cross_entropy(second(idx[5:]), y[5:])]
    assert torch.allclose(model.training_loss(idx, y), (own[0] + own[1]) / 2)


def test_an_untrained_model_predicts_close_to_uniform() -> None:
    torch.manual_seed(0)
    model = NameMLP(ModelConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=200))
    x = torch.randint(0, 27, (2000, 3))
    y = torch.randint(0, 27, (2000,))
    assert abs(loss_on(model, x, y) - math.log(27)) < 0.05


def test_position_tables_reproduce_the_forward() -> None:
    torch.manual_seed(1)
    config = ModelConfig(vocab_size=6, block_size=3, n_embd=4, n_hidden=8, n_layers=2, layer_norm=True, n_members=2)
    model = NameMLP(config).eval()
    idx = torch.randint(0, 6, (10, 3))
    tables = model.position_tables()
    assert tables.shape == (3, 6, 8 * 2)
    pre = tables[0][idx[:, 0]] + tables[1][idx[:, 1]] + tables[2][idx[:, 2]]
    with torch.no_grad():
        assert torch.allclose(model.logits_from_first_layer(pre), model(idx), atol=1e-5)


def test_loss_on_is_mean_cross_entropy_in_eval_mode_across_batches() -> None:
    torch.manual_seed(2)
    model = NameMLP(ModelConfig(vocab_size=6, block_size=2, n_embd=3, n_hidden=8, dropout=0.5))
    x = torch.randint(0, 6, (50, 2))
    y = torch.randint(0, 6, (50,))
    model.eval()
    with torch.no_grad():
        expected = F.cross_entropy(model(x), y).item()
    model.train()
    assert math.isclose(loss_on(model, x, y, batch_size=7), expected, rel_tol=1e-5)
    assert model.training  # the caller's mode is restored


def test_word_dropout_zeroes_the_requested_fraction_and_rescales_the_rest() -> None:
    torch.manual_seed(0)
    dropout = WordDropout(0.4).train()
    out = dropout(torch.ones(1000, 1000))
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.4) < 0.003  # a million draws: the standard error is 0.0005
    assert torch.all((out == 0) | (out == 1 / 0.6))


def test_word_dropout_is_the_identity_in_eval_mode() -> None:
    x = torch.randn(7, 5)
    assert torch.equal(WordDropout(0.4).eval()(x), x)


def test_word_dropout_masks_follow_torch_manual_seed() -> None:
    dropout = WordDropout(0.5).train()
    torch.manual_seed(3)
    first = dropout(torch.ones(64, 64))
    torch.manual_seed(3)
    assert torch.equal(dropout(torch.ones(64, 64)), first)
    assert not torch.equal(dropout(torch.ones(64, 64)), first)
