"""The SPOS ShuffleNetV2 space: exact analytic costs, the paper's ImageNet sizes, bad input."""

import numpy as np
import pytest
import torch

from nasforge.errors import ConfigError
from nasforge.nn.counting import measure
from nasforge.nn.slim import fake_quantize
from nasforge.spaces.shufflenet.space import ShuffleNetSpace
from nasforge.task import Shape

SEARCH = {"width_mult": 0.25, "channel_scales": [0.2, 0.6, 1.0, 1.6, 2.0], "bits": [2, 4, 8, 32]}


@pytest.mark.parametrize("shape", [Shape((3, 32, 32), 10), Shape((1, 40), 7),
                                   Shape((3, 130, 130), 5)], ids=["2d", "1d", "strided-stem"])
def test_analytic_cost_equals_the_built_network(shape):
    space = ShuffleNetSpace(**SEARCH, repeats=[1, 2, 2, 1])
    rng = np.random.default_rng(0)
    for _ in range(4):
        arch = space.sample(rng)
        assert space.cost(arch, shape) == measure(space.build(arch, shape), shape.input_shape)


def test_imagenet_sizes_match_the_paper():
    """SPOS's block-search models: about 320-330M FLOPs and 3.4-3.5M params at 224x224."""
    space = ShuffleNetSpace()
    shape = Shape((3, 224, 224), 1000)
    costs = [space.cost(space.sample(np.random.default_rng(s)), shape) for s in range(5)]
    assert all(300e6 < c.flops < 360e6 and 3.2e6 < c.params < 3.6e6 for c in costs)
    assert space.size() == 4**20


def test_decisions_follow_the_searched_dimensions():
    assert len(ShuffleNetSpace().decisions) == 20
    assert len(ShuffleNetSpace(**SEARCH).decisions) == 80
    labels = {d.label for d in ShuffleNetSpace(**SEARCH).decisions}
    assert {"b00/op", "b00/width", "b00/wbits", "b00/abits"} <= labels


def test_width_scale_changes_costs_monotonically():
    space = ShuffleNetSpace(width_mult=0.25, channel_scales=[0.2, 1.0, 2.0])
    shape = Shape((3, 32, 32), 10)
    base = {d.label: "shuffle3" for d in space.decisions if d.label.endswith("/op")}
    flops = [space.cost(space.parse(_json({**base, **{d.label: s for d in space.decisions
                                                       if d.label.endswith("/width")}})),
                        shape).flops for s in (0.2, 1.0, 2.0)]
    assert flops[0] < flops[1] < flops[2]


def test_bitops_weigh_block_flops_by_bits():
    space = ShuffleNetSpace(width_mult=0.25, bits=[4, 32])
    shape = Shape((3, 32, 32), 10)
    low = {d.label: (4 if "bits" in d.label else "xception") for d in space.decisions}
    high = {d.label: (32 if "bits" in d.label else "xception") for d in space.decisions}
    assert space.bitops(space.parse(_json(low)), shape) < space.bitops(space.parse(_json(high)),
                                                                         shape)
    assert space.bitops(space.parse(_json(high)), shape) == 32 * 32 * space.cost(
        space.parse(_json(high)), shape).flops


def test_fake_quantization_rounds_forward_and_passes_gradients_straight_through():
    x = torch.linspace(-1, 1, 101, requires_grad=True)
    q = fake_quantize(x, 2)  # signed 2 bits: {-1, 0, 1} x scale
    assert len(torch.unique(q.detach())) == 3
    q.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    positive = torch.rand(50)
    assert len(torch.unique(fake_quantize(positive, 3))) <= 8
    assert fake_quantize(x, 32) is x


@pytest.mark.parametrize("options", [{"channel_scales": [0.0, 1.0]}, {"bits": [0, 8]},
                                     {"bits": [64]}, {"choices": ["shuffle9"]},
                                     {"repeats": [1, 1, 1]}, {"width_mult": -1},
                                     {"stem_downsample": 8}, {"channel_scales": [1.0, 1.0]}])
def test_bad_options_are_config_errors(options):
    with pytest.raises(ConfigError):
        ShuffleNetSpace(**options)


def test_latency_lookup_table():
    space = ShuffleNetSpace(repeats=[1, 1, 1, 1])
    arch = space.sample(np.random.default_rng(0))
    entries = {f"b{i:02d}/{arch[f'b{i:02d}/op']}/1": 0.5 for i in range(4)} | {"base": 1.0}
    assert space.latency(arch, entries) == pytest.approx(3.0)
    with pytest.raises(ConfigError, match="no entry"):
        space.latency(arch, {"base": 1.0})


def test_a_measured_latency_table_covers_every_block_choice_and_width():
    from nasforge.spaces.shufflenet.latency import measure_latency_table

    space = ShuffleNetSpace(width_mult=0.25, repeats=[1, 1, 1, 1], channel_scales=[0.5, 2.0],
                            choices=["shuffle3", "xception"])
    entries = measure_latency_table(space, Shape((1, 40), 10), repeats=2)
    assert len(entries) == 4 * 2 * 2 + 1 and all(ms > 0 for ms in entries.values())
    arch = space.sample(np.random.default_rng(0))
    assert space.latency(arch, entries) > entries["base"]


def _json(values: dict) -> str:
    import json

    return json.dumps(values)
