"""The fused cell (edges out of a node evaluated together) against the edge-by-edge cell: same
outputs, gradients and batch-norm statistics in every mode."""

import numpy as np
import pytest
import torch
from fused_equivalence import assert_same_state, assert_weighted_mode_matches

from nasforge.evaluators.supernet import recalibrate_bn
from nasforge.spaces.nb201 import NB201Space
from nasforge.supernet.fused import Branch, accumulate, run_branches
from nasforge.supernet.nb201 import NB201Supernet
from nasforge.task import Shape

SHAPES = [Shape((3, 12, 12), 4), Shape((2, 20), 4)]


def pair(shape: Shape) -> tuple[NB201Supernet, NB201Supernet]:
    torch.manual_seed(0)
    fused = NB201Supernet(shape, C=4, N=1, fused=True)
    plain = NB201Supernet(shape, C=4, N=1, fused=False)
    plain.load_state_dict(fused.state_dict())
    return fused, plain


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "1d"])
def test_weighted_mode_matches_edge_by_edge(shape: Shape) -> None:
    fused, plain = pair(shape)
    assert_weighted_mode_matches(fused, plain, torch.randn(6, *shape.input_shape), (6, 5))


def test_masked_discretized_and_single_path_match() -> None:
    shape = SHAPES[0]
    fused, plain = pair(shape)
    x = torch.randn(6, *shape.input_shape)
    with torch.no_grad():
        for net in (fused, plain):
            net.set_weights(torch.softmax(torch.randn(6, 5, generator=torch.Generator()
                                                       .manual_seed(1)), -1))
            net.mask("2<-1", "nor_conv_3x3")
            net.discretize("1<-0", "none")  # node 1 gets nothing: zeros feed nodes 2 and 3
        assert torch.allclose(fused.train()(x), plain.train()(x), atol=1e-5)
        arch = NB201Space().sample(np.random.default_rng(0))
        for net in (fused, plain):
            net.set_path(arch)
        assert torch.allclose(fused(x), plain(x), atol=1e-5)
    assert_same_state(fused, plain)


def test_cumulative_statistics_with_uneven_batch_counts_match() -> None:
    """Momentum None (the cumulative average of recalibration) weighs each batch norm's
    update by its own count: ops that ran a different number of times must not share one
    update."""
    shape = SHAPES[0]
    fused, plain = pair(shape)
    x = [torch.randn(6, *shape.input_shape) for _ in range(3)]
    arch = NB201Space().sample(np.random.default_rng(1))
    for net in (fused, plain):
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        with torch.no_grad():
            net.set_path(arch)
            net.train()(x[0])  # the path's batch norms have counted one batch, others none
            net.set_weights(torch.full((6, 5), 0.2))
            net(x[1])
            net(x[2])
    assert_same_state(fused, plain)
    recalibrate_bn(fused, [(x[0], None)])
    recalibrate_bn(plain, [(x[0], None)])
    assert_same_state(fused, plain)


def test_parameter_free_ops_run_once_and_sums_update_in_place() -> None:
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(1)
            return x + 1

    op = Counting()
    x = torch.ones(2, 3)
    w = [torch.tensor(0.5), torch.tensor(2.0)]
    terms = run_branches(x, [Branch(op, w[0], 1), Branch(Counting(), w[1], 2),
                             Branch(op, w[1], 2)])
    assert len(calls) == 1  # three branches, one (shared) computation
    sums: list[torch.Tensor | None] = [x, None, None]
    owned: set[int] = set()
    accumulate(sums, owned, terms)
    assert torch.equal(sums[1], torch.full((2, 3), 1.0))
    assert torch.equal(sums[2], torch.full((2, 3), 8.0))
    assert owned == {1, 2}
