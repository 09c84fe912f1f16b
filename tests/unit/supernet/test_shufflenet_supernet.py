"""The ShuffleNet supernet: a path is exactly its standalone network with the sliced weights;
only the sampled choice's (sliced) weights get gradients; BN recalibration of a path."""

import numpy as np
import torch

from nasforge.evaluators.supernet import recalibrate_bn
from nasforge.nn.slim import SlimBatchNorm
from nasforge.spaces.shufflenet.space import ShuffleNetSpace
from nasforge.supernet import build_supernet
from nasforge.task import Shape

SPACE = ShuffleNetSpace(width_mult=0.25, repeats=[1, 2, 1, 1],
                        channel_scales=[0.5, 1.0, 2.0], bits=[4, 32])
SHAPE = Shape((3, 16, 16), 5)


def _supernet():
    torch.manual_seed(0)
    net = build_supernet(SPACE, SHAPE)
    with torch.no_grad():  # non-trivial BN statistics, so slicing them matters
        for m in net.modules():
            if isinstance(m, SlimBatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


def test_a_path_computes_its_exported_standalone_network():
    net, x = _supernet(), torch.randn(3, *SHAPE.input_shape)
    rng = np.random.default_rng(0)
    for _ in range(4):
        arch = SPACE.sample(rng)
        net.set_path(arch)
        net.eval()
        model = net.export(arch).eval()
        assert torch.allclose(net(x), model(x), atol=1e-5)


def test_only_the_sampled_choice_and_its_slice_get_gradients():
    net = _supernet()
    arch = SPACE.sample(np.random.default_rng(1))
    arch = arch.replace(**{"b01/op": "shuffle5", "b01/width": 0.5})
    net.set_path(arch)
    net(torch.randn(2, *SHAPE.input_shape)).sum().backward()
    block = net.net.features[1]
    chosen = block.choices[SPACE.choices.index("shuffle5")]
    for i, unit in enumerate(block.choices):
        if unit is not chosen:
            assert all(p.grad is None for p in unit.parameters()), i
    first = chosen.main[0].conv.weight  # 1x1 conv into the sliced middle
    mid = SPACE.mid(net.block_widths[1], 0.5)
    assert first.grad[:mid].abs().sum() > 0 and first.grad[mid:].abs().sum() == 0


def test_recalibration_resets_and_recomputes_the_path_statistics():
    net = _supernet()
    arch = SPACE.sample(np.random.default_rng(2)).replace(**{"b00/op": "shuffle3",
                                                             "b00/width": 0.5})
    net.set_path(arch)
    batches = [(torch.randn(8, *SHAPE.input_shape), torch.zeros(8, dtype=torch.long))
               for _ in range(3)]
    recalibrate_bn(net, batches)
    unit = net.net.features[0].choices[0]
    bn, mid = unit.main[0].bn, SPACE.mid(net.block_widths[0], 0.5)
    with torch.no_grad():  # the exact average over the three batches of the sliced entries
        net.train()
        means = [unit.main[0].conv(net.net.stem(x), mid).mean((0, 2, 3)) for x, _ in batches]
    assert torch.allclose(bn.running_mean[:mid], torch.stack(means).mean(0), atol=1e-5)
    assert torch.all(bn.running_mean[mid:] == 0)  # reset, and off the path


def test_weighted_mode_mixes_the_choices():
    net = _supernet().eval()
    x = torch.randn(2, *SHAPE.input_shape)
    net.set_weights(torch.full(net.alpha_shape, 0.25))
    mixed = net(x)
    net.set_path(SPACE.sample(np.random.default_rng(3)))
    assert not torch.allclose(mixed, net(x))
    assert SPACE.contains(net.to_architecture({e: "xception" for e in net.edges}))
