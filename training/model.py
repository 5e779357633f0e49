"""The character-level MLP of Bengio et al. 2003, as in the makemore lectures.

One definition serves training, export and the service's fast path:
embedding table -> the block_size embeddings concatenated (a view) -> tanh
hidden layer(s) -> logits over the vocabulary.
"""

from __future__ import annotations

import itertools
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
