import numpy as np
import torch

from nasforge.registry import SPACES
from nasforge.spaces.multibranch import MultiBranchSpace
from nasforge.supernet import build_gated_supernet
from nasforge.task import Shape

SHAPE = Shape((1, 16), 3)


def small():
    return MultiBranchSpace(C=4, blocks=1, stages=2, kernels=[3, 5])


def test_space_round_trip_and_build():
    space = small()
    assert SPACES.build("multibranch_resnet", **space.options()).decisions == space.decisions
    arch = space.sample(np.random.default_rng(0))
    assert space.build(arch, SHAPE)(torch.randn(2, 1, 16)).shape == (2, 3)
    none = arch.replace(**{d.label: 0 for d in space.decisions})  # every branch removed
    assert space.build(none, SHAPE)(torch.randn(2, 1, 16)).shape == (2, 3)


def test_export_of_a_sampled_candidate_reproduces_the_supernet():
    space = small()
    net = build_gated_supernet(space, SHAPE, init_p=0.4)
    x = torch.randn(6, 1, 16)
    net.train()
    net.bank.set_mode("relaxed")
    net(x)
    masks = net.bank.sample_masks(torch.Generator().manual_seed(3))
    arch, evaluated = net.candidate(masks)
    assert sum(arch.values()) == int(sum(float(m.sum()) for m in masks.values()))
    net.bank.set_masks(evaluated)
    net.eval()
    model = net.export(arch).eval()
    with torch.no_grad():
        assert torch.allclose(model(x), net(x), atol=1e-5)
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in net.parameters())
