"""The character-level MLP of Bengio et al. 2003, as in the makemore lectures.

One definition serves training, export and the service's fast path:
embedding table -> the block_size embeddings concatenated (a view) -> tanh
hidden layer(s) -> logits over the vocabulary.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    vocab_size: int = 27
    block_size: int = 3
    n_embd: int = 10
    n_hidden: int = 200
    n_layers: int = 1  # tanh hidden layers
    deep_width: int = 0  # width of the layers after the first; 0: n_hidden. The first layer is free at
    # sampling time (per-position tables), the deeper ones are not, so they may be narrower.
    layer_norm: bool = False  # LayerNorm before each tanh
    dropout: float = 0.0  # after each tanh, training only
    n_members: int = 1  # MLPs whose probabilities are averaged (an ensemble in one artifact)

    def to_dict(self) -> dict[str, int | float | bool]:
        return asdict(self)


class WordDropout(nn.Module):
    """Dropout whose mask comes from 16-bit slices of 64-bit random words.

    nn.Dropout draws one Bernoulli variate per element (bernoulli_), which took 28 % of a training step
    here; four 16-bit uniforms from each 64-bit word cost about a twentieth of that. The drop probability
    is p rounded to a multiple of 1/65536 (0.4 -> 0.399994); surviving values are scaled by 1/(1-p) as usual.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p
        # A kept element's 16-bit word, read as signed, is >= this threshold.
        self.threshold = round(p * 65536) - 32768
        self.int64_min = -(2**63)  # an attribute, because TorchScript would read the literal as a float

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_(self.int64_min, None)
        keep = words.view(torch.int16)[: x.numel()].view(x.shape) >= self.threshold
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


class HiddenBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, layer_norm: bool, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.norm = nn.LayerNorm(n_out) if layer_norm else nn.Identity()
        self.dropout = WordDropout(dropout)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """Everything after the linear map: split out so the first layer's
        product can be precomputed per position by the sampler."""
        return self.dropout(torch.tanh(self.norm(pre)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.linear(x))


class MemberMLP(nn.Module):
    """One MLP: embedding table -> concatenated context -> tanh hidden layer(s) -> logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.block_size = config.block_size
        self.n_embd = config.n_embd
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.first = HiddenBlock(config.block_size * config.n_embd, config.n_hidden, config.layer_norm, config.dropout)
        deep = config.deep_width or config.n_hidden
        widths = [config.n_hidden] + [deep] * (config.n_layers - 1)
        self.deeper = nn.ModuleList(
            HiddenBlock(n_in, n_out, config.layer_norm, config.dropout) for n_in, n_out in itertools.pairwise(widths)
        )
        self.head = nn.Linear(widths[-1], config.vocab_size)
        with torch.no_grad():
            # Near-uniform predictions at the start: no "hockey stick" loss.
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.embedding(idx).view(idx.shape[0], -1)  # concatenation as a view
        return self.logits_from_first_layer(self.first.linear(x))

    def position_tables(self) -> torch.Tensor:
        first = self.first.linear
        w = first.weight.view(first.weight.shape[0], self.block_size, self.n_embd)
        tables = torch.einsum("ve,hke->kvh", self.embedding.weight, w).contiguous()
        tables[0] += first.bias
        return tables

    def logits_from_first_layer(self, pre: torch.Tensor) -> torch.Tensor:
        x = self.first.activate(pre)
        for block in self.deeper:
            x = block(x)
        return self.head(x)


class NameMLP(nn.Module):
    """The model: one MLP, or `n_members` MLPs trained side by side whose probabilities are averaged.

    forward, position_tables and logits_from_first_layer are the artifact's interface: with several members
    the tables are concatenated along the hidden axis and the "logits" are the mixture's log-probabilities
    (softmax of them is the averaged distribution), so the service needs no change.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.block_size = config.block_size
        self.n_hidden = config.n_hidden
        self.members = nn.ModuleList(MemberMLP(config) for _ in range(config.n_members))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, block_size) token ids -> (B, vocab_size) logits (normalized: log-probabilities)."""
        return self._mixture(self.member_logits(idx))

    def member_logits(self, idx: torch.Tensor) -> list[torch.Tensor]:
        return [member(idx) for member in self.members]

    def _mixture(self, logits: list[torch.Tensor]) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(x, dim=-1) for x in logits])
        return torch.logsumexp(log_probs, dim=0) - torch.log(torch.tensor(float(len(logits))))

    @torch.jit.export
    def position_tables(self) -> torch.Tensor:
        """(block_size, vocab_size, n_members * n_hidden): the first layer's contribution of each token at
        each context position, C @ W1[k], bias folded into position 0. Summing the rows a context picks gives
        the first layer's pre-activation without the embedding lookup or the wide matmul."""
        return torch.cat([member.position_tables() for member in self.members], dim=-1)  # type: ignore[operator]

    @torch.jit.export
    def logits_from_first_layer(self, pre: torch.Tensor) -> torch.Tensor:
        """The rest of the network, from the first layer's pre-activation."""
        chunks = pre.split(self.n_hidden, dim=-1)
        # ModuleList items are typed as Module for mypy; TorchScript knows they are MemberMLPs.
        logits = [member.logits_from_first_layer(chunks[i]) for i, member in enumerate(self.members)]  # type: ignore[operator]
        return self._mixture(logits)

    def training_loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each member learns on its own share of the batch (mean of their losses), as independently trained
        ensemble members do: different examples make them differ more, which is what averaging gains from.
        The mixture is what is evaluated and served."""
        shares = zip(idx.chunk(len(self.members)), targets.chunk(len(self.members)), strict=True)
        losses = [F.cross_entropy(member(x), y) for member, (x, y) in zip(self.members, shares, strict=True)]
        return torch.stack(losses).mean()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def loss_on(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 65536) -> float:
    """Mean cross-entropy (nats per character) over all windows, in eval mode."""
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            logits = model(x[start : start + batch_size])
            total += F.cross_entropy(logits, y[start : start + batch_size], reduction="sum").item()
    model.train(was_training)
    return total / x.shape[0]


def _halved_tanh_weights(linears: list[nn.Linear]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stacked (members, in, out) weights and (members, 1, out) biases of a layer whose input was tanh(a) and is
    now s = sigmoid(2a): since tanh(a) = 2 s - 1, W tanh(a) + c = (2 W) s + (c - W 1)."""
    weight = torch.stack([2 * lin.weight.t() for lin in linears])
    bias = torch.stack([lin.bias - lin.weight.sum(dim=1) for lin in linears])[:, None]
    return weight.contiguous(), bias.contiguous()


def _doubled_norm(blocks: list[HiddenBlock]) -> tuple[torch.Tensor, torch.Tensor]:
    """(2 gamma, 2 beta) of the blocks' layer norms, stacked (members, width): sigmoid(2 LN(a)) = s."""
    norms = [b.norm for b in blocks if isinstance(b.norm, nn.LayerNorm)]
    if len(norms) != len(blocks):  # no layer norm: sigmoid(2 a), the scale applied in forward
        return torch.empty(0), torch.empty(0)
    return 2 * torch.stack([n.weight for n in norms]), 2 * torch.stack([n.bias for n in norms])


# BLAS picks its kernel by the number of rows, and kernels for different row counts may round differently (MKL's
# do for 4 rows against 8 or more under MKL_CBWR=COMPATIBLE), so a context's float32 output could depend on how
# many contexts share its network call. The float matmuls after the first layer are therefore computed as
# separate products of 4 rows (the smallest bucket of app/engine/network.py): one shape whatever the batch.
def tiled_baddbmm(bias: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """bias + x @ weight for each member, (members, B, in) -> (members, B, out), in products of 4 rows (the rows
    padded to a multiple of 4, the padding dropped from the result)."""
    members, rows, width = x.shape
    tiles = (rows + 3) // 4
    if tiles * 4 != rows:
        x = F.pad(x, [0, 0, 0, tiles * 4 - rows])
    if tiles == 1:  # one 4-row product per member: every member in one call
        return torch.baddbmm(bias, x, weight)[:, :rows]
    products = [
        torch.baddbmm(bias[m], x[m].reshape(tiles, 4, width), weight[m].expand(tiles, width, weight.shape[-1]))
        for m in range(members)
    ]
    return torch.stack(products).view(members, tiles * 4, -1)[:, :rows]


# Sigmoid outputs, in [0, 1], enter the int8 layers as whole multiples of 1/127: 0 .. 127 fits an int8, the type
# torch._int_mm multiplies. Products of such whole numbers summed in int32 are exact, and so are their float32 sums
# while every partial sum stays below 2**24, which holds for up to INT8_MAX_INPUTS inputs.
INT8_INPUT_LEVELS = 127
INT8_MAX_INPUTS = 2**24 // (127 * 127)


def int8_columns(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(members, in, out) float32 weights -> the same rounded to int8, each output column scaled so that its
    largest magnitude is 127, and those (members, 1, out) float32 scales: weight ~ int8 * scale."""
    scale = (weight.abs().amax(dim=1, keepdim=True) / 127).clamp_min(1e-12)
    return torch.round(weight / scale).clamp(-127, 127).to(torch.int8), scale


class StackedBlock(nn.Module):
    """A hidden layer after the first, every member at once: the matmul (tiled_baddbmm, or in int8 one per member),
    then norm and sigmoid.

    In int8 the weights have one scale per output column and the inputs are rounded to FIXED levels. Dynamic
    quantization would scale each call's input by its own range, so a row's result would depend on the other rows
    in its batch; the service needs every context's output independent of its batch (cache, buckets, sampler and
    scorer agreeing). The inputs are sigmoids, so one fixed step fits them all. The int32 sums are exact, so the
    two ways of computing them (use_int8_kernels) give the same bits.
    """

    def __init__(self, blocks: list[HiddenBlock], int8: bool = False) -> None:
        super().__init__()
        weight, bias = _halved_tanh_weights([b.linear for b in blocks])
        scale, shift = _doubled_norm(blocks)
        self.int8 = int8
        self.weight = weight  # (members, in, out); int8 in int8
        self.bias = bias
        self.output_scale = torch.empty(0)  # int8: the input step times each column's scale
        self.input_levels = float(INT8_INPUT_LEVELS)
        self.int8_kernels = False  # int8: torch._int_mm, else a float32 product of the same whole numbers
        self.float_weight = torch.empty(0)  # int8: the weights as float32, once use_int8_kernels(False) made them
        if int8:
            if weight.shape[1] > INT8_MAX_INPUTS:
                raise ValueError(f"an int8 layer takes at most {INT8_MAX_INPUTS} inputs, not {weight.shape[1]}")
            self.weight, weight_scale = int8_columns(weight)
            self.output_scale = torch.tensor(1 / INT8_INPUT_LEVELS, dtype=torch.float32) * weight_scale
        self.scale = scale[:, None] if scale.numel() else scale
        self.shift = shift[:, None] if shift.numel() else shift
        self.layer_norm = scale.numel() > 0
        self.width = weight.shape[-1]
        self.eps = float(blocks[0].norm.eps) if isinstance(blocks[0].norm, nn.LayerNorm) else 0.0
        # An identity affine: layer_norm's kernel with weight and bias is faster than its kernel without.
        self.ones = torch.ones(self.width)
        self.zeros = torch.zeros(self.width)

    @torch.jit.export
    def use_int8_kernels(self, available: bool) -> None:
        """int8: multiply with torch._int_mm (`available`: the CPU has the instructions of its fast kernel;
        app/engine/artifact.py decides at load) or in float32, the weights converted once here, not per call."""
        if self.int8:
            self.int8_kernels = available
            self.float_weight = torch.empty(0) if available else self.weight.to(torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(members, B, in) sigmoids -> (members, B, out) sigmoids."""
        if self.int8:
            if self.int8_kernels:
                sums = torch.empty((x.shape[0], x.shape[1], self.width), dtype=torch.int32)
                for m in range(x.shape[0]):  # a member at a time: temporaries of one member's size
                    levels = (x[m] * self.input_levels).round_()
                    levels = levels.to(dtype=torch.int8, memory_format=torch.contiguous_format)
                    torch._int_mm(levels, self.weight[m], out=sums[m])
                a = sums.to(torch.float32)
                a = torch.addcmul(self.bias, a, self.output_scale, out=a)
            else:
                weight = self.float_weight if self.float_weight.numel() > 0 else self.weight.to(torch.float32)
                a = torch.addcmul(self.bias, torch.bmm((x * self.input_levels).round_(), weight), self.output_scale)
        else:
            a = tiled_baddbmm(self.bias, x, self.weight)
        if self.layer_norm:
            a = F.layer_norm(a, [self.width], self.ones, self.zeros, self.eps)
            return torch.sigmoid_(torch.addcmul(self.shift, a, self.scale))
        return torch.sigmoid_(a * 2.0)


class ServedNameMLP(nn.Module):
    """A trained NameMLP rearranged for serving (what training/export.py scripts): the same function, fewer ops.

    At the service's small batches most of the time is per-operator overhead, and tanh is the slowest
    elementwise kernel here, so:
    - the members' layers are stacked and run as batched matmuls (tiled_baddbmm; int8: StackedBlock), the layer
      norms on the stacked tensor, instead of a chain of small ops per member;
    - tanh(a) = 2 sigmoid(2a) - 1, the 2 folded into the layer norm's affine and the "2 s - 1" into the next
      layer's weights and bias: one sigmoid where there was a tanh, and no extra op;
    - the first layer always comes from the per-position tables (an embedding_bag sum), in forward too: the
      tables are the embeddings times W1, precomputed, so the wide embedding -> hidden matmul never runs.
    Its tensors are plain attributes, not parameters: it is for inference only; NameMLP stays the training model.
    """

    def __init__(self, model: NameMLP, int8: bool = False) -> None:
        super().__init__()
        members = [m for m in model.members if isinstance(m, MemberMLP)]
        self.int8 = int8  # the layers after the first in int8 (StackedBlock); the head stays float32
        self.block_size = model.block_size
        self.n_members = len(members)
        self.n_hidden = model.n_hidden
        self.log_members = math.log(self.n_members)
        with torch.no_grad():
            tables = model.position_tables().detach().contiguous()  # (block_size, V, members * n_hidden)
            self.vocab_size = tables.shape[1]
            self.tables = tables
            self.offsets = torch.arange(self.block_size) * self.vocab_size
            firsts = [m.first for m in members]
            scale, shift = _doubled_norm(firsts)
            self.first_scale = scale
            self.first_shift = shift
            self.layer_norm = scale.numel() > 0
            self.eps = float(firsts[0].norm.eps) if isinstance(firsts[0].norm, nn.LayerNorm) else 0.0
            self.ones = torch.ones(self.n_hidden)  # identity affine, as in StackedBlock
            self.zeros = torch.zeros(self.n_hidden)
            depth = len(members[0].deeper)
            self.deeper = nn.ModuleList(
                StackedBlock([m.deeper[d] for m in members if isinstance(m.deeper[d], HiddenBlock)], int8)  # type: ignore[misc]
                for d in range(depth)
            )
            head_weight, head_bias = _halved_tanh_weights([m.head for m in members])
            self.head_weight = head_weight
            self.head_bias = head_bias

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, block_size) token ids -> (B, vocab_size) log-probabilities of the mixture."""
        pre = F.embedding_bag(idx + self.offsets, self.tables.view(-1, self.tables.shape[-1]), mode="sum")
        return self.logits_from_first_layer(pre)

    @torch.jit.export
    def position_tables(self) -> torch.Tensor:
        """As NameMLP.position_tables: (block_size, vocab_size, n_members * n_hidden), a copy the caller may keep."""
        return self.tables.clone()

    @torch.jit.export
    def use_int8_kernels(self, available: bool) -> None:
        """How the int8 layers multiply (StackedBlock.use_int8_kernels); the outputs are the same bits either way."""
        for block in self.deeper:
            block.use_int8_kernels(available)  # type: ignore[operator]

    @torch.jit.export
    def logits_from_first_layer(self, pre: torch.Tensor) -> torch.Tensor:
        """(B, n_members * n_hidden) first-layer pre-activations -> (B, vocab_size) mixture log-probabilities."""
        x = pre.view(pre.shape[0], self.n_members, self.n_hidden)
        if self.layer_norm:
            x = F.layer_norm(x, [self.n_hidden], self.ones, self.zeros, self.eps)
            x = torch.addcmul(self.first_shift, x, self.first_scale)
        else:
            x = x * 2.0
        x = torch.sigmoid_(x).transpose(0, 1)  # (members, B, n_hidden): a strided view, the matmul reads it as is
        for block in self.deeper:
            x = block(x)
        logits = tiled_baddbmm(self.head_bias, x, self.head_weight)  # (members, B, V)
        if self.n_members == 1:
            return torch.log_softmax(logits[0], dim=-1)
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=0) - self.log_members
