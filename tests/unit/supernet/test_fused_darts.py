"""The fused DARTS search cell (edges out of a state evaluated together) against the
edge-by-edge cell: same outputs, gradients and batch-norm statistics in every mode."""

import numpy as np
import pytest
import torch
from fused_equivalence import assert_same_state, assert_weighted_mode_matches

from nasforge.evaluators.supernet import recalibrate_bn
from nasforge.spaces.darts.space import DartsSpace
from nasforge.supernet.darts import DartsSupernet
from nasforge.task import Shape

SHAPES = [Shape((3, 8, 8), 4), Shape((2, 16), 4)]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks, shared cores


def pair(shape: Shape, **options: object) -> tuple[DartsSupernet, DartsSupernet]:
    space = DartsSpace(C=4, layers=3, **options)  # type: ignore[arg-type]
    torch.manual_seed(0)
    fused = DartsSupernet(shape, space=space, fused=True)
    plain = DartsSupernet(shape, space=space, fused=False)
    plain.load_state_dict(fused.state_dict())
    return fused, plain


def weights(seed: int, shape: tuple[int, int] = (28, 8)) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), -1)


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "1d"])
def test_weighted_mode_matches_edge_by_edge(shape: Shape) -> None:
    fused, plain = pair(shape)
    assert_weighted_mode_matches(fused, plain, torch.randn(4, *shape.input_shape), (28, 8))


def test_masked_discretized_removed_and_single_path_match() -> None:
    shape = SHAPES[0]
    fused, plain = pair(shape)
    x = torch.randn(4, *shape.input_shape)
    with torch.no_grad():
        for net in (fused, plain):
            net.set_weights(weights(1))
            net.mask("normal/3<-1", "sep_conv_3x3")
            net.discretize("reduce/2<-0", "max_pool_3x3")
            for src in (0, 1):  # node 2 of the normal cell gets nothing: zeros feed on
                net.remove_edge(f"normal/2<-{src}")
        assert torch.allclose(fused.train()(x), plain.train()(x), atol=1e-5)
        arch = fused.space.sample(np.random.default_rng(0))
        for net in (fused, plain):
            net.set_path(arch)
        assert torch.allclose(fused(x), plain(x), atol=1e-5)
    assert_same_state(fused, plain)


def test_cumulative_statistics_with_uneven_batch_counts_match() -> None:
    """Momentum None (recalibration's cumulative average): batch norms that ran a different
    number of times must not share one update."""
    shape = SHAPES[0]
    fused, plain = pair(shape)
    x = [torch.randn(4, *shape.input_shape) for _ in range(3)]
    arch = fused.space.sample(np.random.default_rng(1))
    for net in (fused, plain):
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        with torch.no_grad():
            net.set_path(arch)
            net.train()(x[0])  # the path's batch norms have counted one batch, others none
            net.set_weights(torch.full((28, 8), 1 / 8))
            net(x[1])
            net(x[2])
    assert_same_state(fused, plain)
    recalibrate_bn(fused, [(x[0], None)])
    recalibrate_bn(plain, [(x[0], None)])
    assert_same_state(fused, plain)


def test_restricted_spaces_match() -> None:
    """S2's and S3's ops (no dil convs, no pooling) go through the same fused path."""
    for variant, ops in (("s2", 2), ("s3", 3)):
        fused, plain = pair(SHAPES[0], space_variant=variant)
        x = torch.randn(4, *SHAPES[0].input_shape)
        with torch.no_grad():
            for net in (fused, plain):
                net.set_weights(weights(2, (28, ops)))
            assert torch.allclose(fused.train()(x), plain.train()(x), atol=1e-5)
