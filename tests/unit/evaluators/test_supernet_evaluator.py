import numpy as np
import torch
from torch import nn

from nasforge.data.base import tensor_task
from nasforge.evaluators.supernet import SupernetEvaluator, recalibrate_bn
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.spos import SinglePathTraining
from nasforge.supernet import build_supernet
from nasforge.training import seeded


def test_recalibration_gives_the_exact_statistics_of_the_batches():
    model = nn.Sequential(nn.Conv1d(2, 3, 1), nn.BatchNorm1d(3, momentum=0.1))
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 2, 5, generator=gen) * 3 + 1, torch.zeros(8)) for _ in range(4)]
    model[1].running_mean.fill_(100.0)  # stale statistics from elsewhere
    recalibrate_bn(model, batches)
    with torch.no_grad():
        outs = [model[0](x) for x, _ in batches]
    per_batch_mean = torch.stack([o.mean((0, 2)) for o in outs])
    per_batch_var = torch.stack([o.var((0, 2), unbiased=True) for o in outs])
    # cumulative average of the per-batch statistics, as momentum=None defines it
    assert torch.allclose(model[1].running_mean, per_batch_mean.mean(0), atol=1e-5)
    assert torch.allclose(model[1].running_var, per_batch_var.mean(0), atol=1e-5)
    assert model[1].momentum == 0.1  # restored


def task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(200, 1, 16)).astype(np.float32)
    y = (x[:, 0, :4].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:160], y[:160], x[160:], y[160:], num_classes=2, seed=0,
                       batch_size=16, valid_fraction=0.5)


def trained_supernet():
    space, data = NB201Space(C=4, N=1), task()
    with seeded(0):
        net = build_supernet(space, data.shape)
    strategy = SinglePathTraining(space, epochs=3, lr=0.1)
    strategy.setup(net, data, torch.device("cpu"))
    for epoch in range(3):
        strategy.train_epoch(epoch)
    return space, data, net


def test_scores_are_reproducible_and_independent_of_the_previous_candidate():
    space, data, net = trained_supernet()
    evaluator = SupernetEvaluator(net, space, data, torch.device("cpu"), recalibration_batches=3)
    rng = np.random.default_rng(0)
    a, b = space.sample(rng), space.sample(rng)
    first = evaluator.evaluate(a)
    evaluator.evaluate(b)  # leaves b's statistics in the supernet
    again = evaluator.evaluate(a)
    assert first.metrics == again.metrics  # recalibration wipes what b left behind
    assert first.params == space.cost(a, data.shape).params and first.cost > 0


def test_without_recalibration_the_shared_statistics_are_used():
    space, data, net = trained_supernet()
    arch = space.sample(np.random.default_rng(1))
    shared = SupernetEvaluator(net, space, data, torch.device("cpu"), recalibration_batches=0)
    before = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    shared.evaluate(arch)
    after = {k: v for k, v in net.state_dict().items() if "running" in k}
    assert all(torch.equal(before[k], after[k]) for k in before)
    SupernetEvaluator(net, space, data, torch.device("cpu"), recalibration_batches=2
                      ).evaluate(arch)
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items() if k in before)
