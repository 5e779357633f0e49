"""ContextNetwork: the one function that gives a context's network output to the sampler and the scorer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine.artifact import Artifact, load_artifact
from app.engine.network import BUCKETS, ContextNetwork
from app.engine.requests import SampleRequest
from app.engine.sampler import Sampler
from app.engine.scorer import Scorer
from app.settings import SHIPPED_MODELS

SHIPPED = sorted(SHIPPED_MODELS.glob("*.pt"))
REPO = Path(__file__).resolve().parent.parent


def random_contexts(artifact: Artifact, count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, artifact.vocab_size, (count, artifact.block_size), generator=generator)


def test_rows_are_identical_in_every_bucket_size(artifact: Artifact) -> None:
    network = ContextNetwork(artifact.module)
    contexts = random_contexts(artifact, 1100, seed=0)
    one_bucket = torch.cat([network.logits(contexts[i : i + BUCKETS[0]]) for i in range(0, len(contexts), 4)])
    for size in BUCKETS:  # `size` contexts are computed in bucket `size`, others padded up to it
        for start in (0, len(contexts) - size, 3):
            assert torch.equal(network.logits(contexts[start : start + size]), one_bucket[start : start + size])
    assert torch.equal(network.logits(contexts), one_bucket)  # many calls of MAX_CHUNK, and a padded last one
    assert torch.equal(network.logits(contexts[5:1000]), one_bucket[5:1000])


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_models_rows_are_identical_in_every_bucket_size(path: Path) -> None:
    artifact = load_artifact(path)
    network = ContextNetwork(artifact.module)
    contexts = random_contexts(artifact, 600, seed=4)
    alone = torch.cat([network.logits(contexts[i : i + 1]) for i in range(12)])  # each padded to the smallest bucket
    for size in BUCKETS:
        rows = min(size, len(alone))
        assert torch.equal(network.logits(contexts[:size])[:rows], alone[:rows])


# A child process, for MKL reads MKL_CBWR when it loads. It prints whether a plain float32 matmul gives its first
# rows different bits when computed with 4 rows and with 64 (the rounding that made /next and /score differ), and
# for each shipped model whether the network's rows are the same in every bucket size.
BUCKETS_UNDER_MKL = textwrap.dedent(
    """
    import json, sys, torch
    from app.engine.artifact import load_artifact
    from app.engine.network import BUCKETS, ContextNetwork
    torch.set_num_threads(1)
    x, w = torch.rand(64, 200), torch.randn(27, 200)
    report = {"plain matmul differs": not torch.equal(torch.nn.functional.linear(x[:4], w),
                                                      torch.nn.functional.linear(x, w)[:4])}
    for path in sys.argv[1:]:
        artifact = load_artifact(path)
        network = ContextNetwork(artifact.module)
        contexts = torch.randint(0, artifact.vocab_size, (512, artifact.block_size))
        first = network.logits(contexts[:3])
        report[path] = all(torch.equal(network.logits(contexts[:size])[:3], first) for size in BUCKETS)
    print(json.dumps(report))
    """
)


def test_rows_agree_across_bucket_sizes_even_where_blas_rounds_by_row_count() -> None:
    if "BLAS_INFO=mkl" not in torch.__config__.show():
        pytest.skip("torch here does not use MKL: MKL_CBWR cannot make its float32 kernels round by row count")
    env = {**os.environ, "MKL_CBWR": "COMPATIBLE"}
    command = [sys.executable, "-c", BUCKETS_UNDER_MKL, *map(str, SHIPPED)]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    if not report.pop("plain matmul differs"):
        pytest.skip("MKL_CBWR=COMPATIBLE gives 4-row and 64-row matmuls the same bits on this CPU: nothing to resist")
    assert report == {str(path): True for path in SHIPPED}


def test_rows_match_the_artifacts_forward(artifact: Artifact) -> None:
    contexts = random_contexts(artifact, 50, seed=1)
    with torch.inference_mode():
        forward = artifact.module(contexts)
    assert torch.allclose(ContextNetwork(artifact.module).logits(contexts), forward, atol=1e-5, rtol=0)


def test_parallel_shares_give_the_same_rows(artifact: Artifact) -> None:
    contexts = random_contexts(artifact, 3000, seed=2)
    one, two = ContextNetwork(artifact.module, threads=1), ContextNetwork(artifact.module, threads=2)
    assert torch.equal(two.logits(contexts), one.logits(contexts))


def test_repeated_contexts_are_computed_once_with_the_same_rows(artifact: Artifact) -> None:
    network = ContextNetwork(artifact.module)
    distinct = random_contexts(artifact, 40, seed=3)
    repeated = distinct[torch.tensor([5, 0, 5, 39, 0, 0, 12])]
    assert torch.equal(network.distinct_logits(repeated), network.logits(distinct)[[5, 0, 5, 39, 0, 0, 12]])


def test_no_contexts_give_no_rows(artifact: Artifact) -> None:
    empty = torch.zeros((0, artifact.block_size), dtype=torch.long)
    assert ContextNetwork(artifact.module).logits(empty).shape == (0, artifact.vocab_size)


@pytest.mark.parametrize("threads", [1, 2])
def test_sampled_log_prob_is_exactly_minus_the_scored_total_loss(artifact: Artifact, threads: int) -> None:
    network = ContextNetwork(artifact.module, threads)
    sampler = Sampler(artifact, network, cache_slots=1009)
    round_ = sampler.sample_round(200, SampleRequest(max_length=32), torch.Generator().manual_seed(21))
    names = [name for name, rejected in zip(round_.names, round_.rejected, strict=True) if not rejected]
    log_probs = [lp for lp, rejected in zip(round_.log_probs, round_.rejected, strict=True) if not rejected]
    scored = Scorer(artifact, network).score_many(names)
    # The same float32 network rows on both sides: only float64 rounding in the sums may differ.
    assert np.allclose([-s.total_loss for s in scored], log_probs, atol=1e-9, rtol=0)
