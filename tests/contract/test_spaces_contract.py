"""Every registered search space: sample, mutate, contains, text round trip, build, one step."""

import numpy as np
import pytest
import torch

import nasforge.spaces  # noqa: F401  (registers)
from nasforge.registry import SPACES
from nasforge.task import Shape

# Small settings per space so the contract runs fast; every registered space needs an entry.
SMALL = {"nb201": {"C": 4, "N": 1}, "darts": {"C": 2, "layers": 3},
         "multibranch_resnet": {"C": 4, "blocks": 1, "stages": 2, "kernels": [3, 5]},
         "macro": {"max_layers": 4, "filter_counts": [4, 8], "stem_channels": 4,
                   "search_stride": True, "search_type": True},
         "shufflenet": {"width_mult": 0.25, "repeats": [1, 1, 1, 1],
                        "channel_scales": [0.5, 1.0], "bits": [4, 32]},
         "rnn_cell": {"base": 2, "hidden": 8}}
SHAPES = [Shape((1, 24), 5), Shape((3, 12, 12), 4)]


def test_every_space_has_a_contract_entry():
    assert set(SPACES.names()) <= set(SMALL)


@pytest.fixture(params=SPACES.names())
def space(request):
    return SPACES.build(request.param, **SMALL[request.param])


def test_sample_mutate_contains(space):
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.contains(arch)
        assert space.contains(space.mutate(arch, rng))


def test_format_parse_round_trip_and_stable_key(space):
    arch = space.sample(np.random.default_rng(1))
    again = space.parse(space.format(arch))
    assert again == arch and space.key(again) == space.key(arch)


def test_same_seed_same_samples(space):
    a = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_build_and_one_training_step(space, shape):
    arch = space.sample(np.random.default_rng(2))
    model = space.build(arch, shape)
    x = torch.randn(4, *shape.input_shape)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    state = model.state_dict()
    clone = space.build(arch, shape)
    clone.load_state_dict(state)
    model.eval()
    clone.eval()
    assert torch.equal(model(x), clone(x))
    cost = space.cost(arch, shape)
    assert cost.params > 0 and cost.flops > 0
