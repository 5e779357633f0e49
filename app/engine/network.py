"""A context's next-token distribution, computed by one function for every caller (sampler and scorer).

/sample's log_prob and /score's total_loss must agree, so both read a context's network output from
ContextNetwork.logits: the first layer as an embedding_bag sum over the artifact's per-position tables (the
embeddings times W1, precomputed: no embedding lookup, no wide matmul), then the artifact's
logits_from_first_layer on the rest. A context's output must not depend on what it is batched with, and BLAS
picks its float32 kernel by the number of rows (kernels that round differently, on some CPUs), so the served
layout (training/model.py) computes its float matmuls as products of 4 rows and its int8 ones exactly; each call
is padded to one of a fixed set of batch sizes (BUCKETS, multiples of 4), so every elementwise kernel sees whole
vectors too. tests/test_network.py checks that the sizes agree. A large call is split into calls of at most
MAX_CHUNK contexts, computed in parallel threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

BUCKETS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # the only batch sizes the network sees
# The most contexts per network call. Larger calls' activations (3 x 1024 floats a row) outgrow the CPU caches
# and each row costs more (1024-row calls clearly so); much smaller calls are cheaper per row in isolation, but
# in the running service the extra calls' Python and thread-pool overhead made whole requests slower.
# (benchmarks/bench_network_cost.py prints the cost per context by batch size.)
MAX_CHUNK = BUCKETS[-1]
PARALLEL_MIN_ROWS = 64  # fewer contexts are computed in one thread (splitting costs more than it saves)


class ContextNetwork:
    """(N, block_size) contexts of token ids -> (N, vocab_size) float32 network outputs (logits or log-probs).

    One per loaded artifact, shared by its Sampler and Scorer (one set of tables, one thread pool). Stateless
    after construction, so one instance serves concurrent callers (the pool is thread-safe). The pool is never
    shut down explicitly: its idle threads exit when the instance is collected.
    """

    def __init__(self, module: torch.jit.ScriptModule, threads: int = 1) -> None:
        self.module = module
        with torch.inference_mode():
            tables = module.position_tables().detach()
        self.block_size, self.vocab_size = int(tables.shape[0]), int(tables.shape[1])
        # Flattened so one embedding_bag sums the block_size rows of a context: row k*V + id is tables[k][id].
        self.tables = tables.reshape(self.block_size * self.vocab_size, -1).contiguous()
        self.offsets = torch.arange(self.block_size) * self.vocab_size
        # Context numbers (for finding repeated contexts) fit int64 only for small vocab_size ** block_size.
        self.powers = (
            torch.tensor([self.vocab_size**k for k in range(self.block_size - 1, -1, -1)])
            if self.vocab_size**self.block_size < 2**62
            else None
        )
        # A call with many contexts is computed as `threads` shares in parallel threads (TorchScript releases the
        # GIL), each on one torch thread: both cores for large requests, without raising torch's own thread
        # count, which every concurrent request would then use too (oversubscription under mixed load).
        self.threads = threads
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="namegen-network") if threads > 1 else None

    def logits(self, contexts: torch.Tensor) -> torch.Tensor:
        """(N, block_size) int64 contexts -> (N, V) float32 outputs, each row computed independently of the others."""
        if len(contexts) == 0:
            return torch.zeros((0, self.vocab_size))
        size = MAX_CHUNK
        if self.pool is not None and len(contexts) >= PARALLEL_MIN_ROWS:
            size = min(size, -(-len(contexts) // self.threads))  # ceil: at least one share per thread
        chunks = [contexts[start : start + size] for start in range(0, len(contexts), size)]
        if self.pool is not None and len(chunks) > 1:
            return torch.cat(list(self.pool.map(self._forward, chunks)))
        if len(chunks) == 1:
            return self._forward(chunks[0])
        return torch.cat([self._forward(chunk) for chunk in chunks])

    def distinct_logits(self, contexts: torch.Tensor) -> torch.Tensor:
        """As logits, but a context repeated in `contexts` is computed once (scoring many names: they share
        their first contexts). The rows are the same as logits' since no row depends on the others."""
        if self.powers is not None:
            keys = (contexts * self.powers).sum(dim=1).numpy()
            _, first, where = np.unique(keys, return_index=True, return_inverse=True)
            distinct = contexts[torch.from_numpy(first)]
            return self.logits(distinct)[torch.from_numpy(where.reshape(-1))]
        distinct, inverse = torch.unique(contexts, dim=0, return_inverse=True)
        return self.logits(distinct)[inverse]

    def _forward(self, chunk: torch.Tensor) -> torch.Tensor:
        """At most MAX_CHUNK contexts, padded to a bucket size, through the first-layer tables and the network."""
        # Plain interpretation of the TorchScript graph: no profiling runs and no fused re-compilation per new
        # shape, which would cost seconds on first use and could change the last bits between calls. (Both
        # modes are thread-local, so they are set here, in whichever thread runs the chunk.)
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            bucket = next(b for b in BUCKETS if b >= len(chunk))
            if bucket == len(chunk):
                padded = chunk
            else:
                padded = torch.zeros((bucket, self.block_size), dtype=torch.long)
                padded[: len(chunk)] = chunk
            pre = F.embedding_bag(padded + self.offsets, self.tables, mode="sum")
            out: torch.Tensor = self.module.logits_from_first_layer(pre)
            return out[: len(chunk)]
