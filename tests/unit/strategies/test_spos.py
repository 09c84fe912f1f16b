import copy

import numpy as np
import pytest
import torch

from nasforge.data.base import tensor_task
from nasforge.errors import ConfigError
from nasforge.spaces.nb201 import NB201_OPS, NB201Space
from nasforge.strategies.spos import SinglePathTraining
from nasforge.supernet import build_supernet
from nasforge.training import seeded


def tiny_task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(120, 1, 16)).astype(np.float32)
    y = (x[:, 0, :4].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:96], y[:96], x[96:], y[96:], num_classes=2, seed=0,
                       batch_size=16, valid_fraction=0.5)


def setup(seed=0, **options):
    space = NB201Space(C=4, N=1)
    task = tiny_task()
    with seeded(0):
        net = build_supernet(space, task.shape)
    strategy = SinglePathTraining(space, seed=seed, epochs=2, **options)
    strategy.setup(net, task, torch.device("cpu"))
    return space, net, strategy


def test_paths_are_uniform_over_the_ops_of_every_edge():
    _, net, strategy = setup()
    counts = np.zeros((6, 5))
    for _ in range(5000):
        arch = strategy.sample_path()
        for e, edge in enumerate(net.edges):
            counts[e, NB201_OPS.index(arch[edge])] += 1
    freq = counts / 5000
    assert np.abs(freq - 0.2).max() < 0.03  # 5 sigma of a binomial(5000, 0.2) is 0.028


@pytest.mark.parametrize("text", [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    # nodes 1 and 2 feed nothing: their ops' gradients are zero, so they stay put too
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|",
])
def test_a_step_updates_only_the_path_ops_that_reach_the_output(text):
    """Ops off the path never move (no gradient, so no momentum or weight decay either); an
    op on it moves unless its gradient is all zero (its output cut off by ``none`` edges:
    the official code's rule, ``if p.grad.sum() == 0: p.grad = None``)."""
    space, net, strategy = setup(weight_decay=0.1, momentum=0.9)
    strategy.max_batches = 1
    strategy.train_epoch(0)  # momentum buffers now exist for the first path's ops
    before = {k: v.clone() for k, v in net.state_dict().items()}
    arch = space.parse(text)
    strategy.sample_path = lambda: arch
    strategy.train_epoch(1)
    reaching = {"1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"} if "none~2" not in text \
        else {"3<-0"}
    checked = 0
    for e, edge in enumerate(net.edges):
        for i, op in enumerate(net.edge_ops[e]):
            for cell in range(3):  # N=1: 3 search cells
                prefix = f"net.cells.{cell * 2}.edges.{edge}.ops.{i}."
                keys = [k for k in before if k.startswith(prefix) and "weight" in k]
                if keys:
                    changed = any(not torch.equal(before[k], net.state_dict()[k]) for k in keys)
                    assert changed == (op == arch[edge] and edge in reaching), (edge, op)
                    checked += 1
    assert checked == 6 * 2 * 3  # the two conv ops of 6 edges in 3 cells


def test_op_strengths_count_the_sampled_paths():
    _, _, strategy = setup()
    strategy.train_epoch(0)
    strengths = strategy.op_strengths()
    assert torch.allclose(strengths.sum(1), torch.ones(6))
    assert strategy.counts.sum() == 6 * len(strategy.task.loader("train"))


def test_learning_rate_decays_linearly_to_zero():
    _, _, strategy = setup(lr=0.4)
    steps = len(strategy.task.loader("train"))
    assert strategy.train_epoch(0)["lr"] == pytest.approx(0.4 * (1 - steps / (2 * steps)))
    assert strategy.train_epoch(1)["lr"] == pytest.approx(0.0)


def test_state_round_trip_continues_identically():
    _, net_a, a = setup()
    a.train_epoch(0)
    saved_net, saved = copy.deepcopy(net_a.state_dict()), copy.deepcopy(a.state_dict())
    a.train_epoch(1)
    _, net_b, b = setup()  # fresh: its path generator starts over unless restored
    net_b.load_state_dict(saved_net)
    b.load_state_dict(saved)
    b.train_epoch(1)
    for (k, x), y in zip(net_a.state_dict().items(), net_b.state_dict().values(), strict=True):
        assert torch.allclose(x, y), k


def test_flops_bins_sampling_spreads_over_sizes():
    space, _, strategy = setup(sampling="flops_bins", flops_bins=4, flops_probe=150)
    flops = [strategy._flops(strategy.sample_path()) for _ in range(120)]
    edges = strategy.flops_edges
    per_bin = np.histogram(flops, bins=edges)[0]
    assert per_bin.min() > 12  # each of the 4 bins gets a fair share (30 expected)


def test_bad_options():
    with pytest.raises(ConfigError):
        SinglePathTraining(NB201Space(), sampling="sometimes")
