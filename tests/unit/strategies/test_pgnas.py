import numpy as np
import pytest
import torch

from nasforge.data.base import tensor_task
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.pgnas import PosteriorTraining
from nasforge.supernet import build_oneshot_supernet
from nasforge.training import seeded


def tiny_task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(120, 1, 16)).astype(np.float32)
    y = (x[:, 0, :4].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:96], y[:96], x[96:], y[96:], num_classes=2, seed=0,
                       batch_size=16, valid_fraction=0.5)


def trained_one_epoch(**options):
    space, task = NB201Space(C=4, N=1), tiny_task()
    strategy = PosteriorTraining(space, seed=0, epochs=1, **options)
    with seeded(0):
        net = build_oneshot_supernet(space, task.shape, gated=True,
                                     **strategy.supernet_options())
    strategy.setup(net, task, torch.device("cpu"))
    return strategy, strategy.train_epoch(0)


def test_fixed_dropout_reports_the_rate_it_drops_at_not_the_untrained_p():
    strategy, metrics = trained_one_epoch(dropout="fixed", fixed_rate=0.3, init_p=0.1)
    assert metrics["mean_drop_p"] == pytest.approx(0.3)
    assert float(strategy.bank.drop_probs().detach().mean()) == pytest.approx(0.1, abs=1e-6)


def test_learned_dropout_reports_the_posterior_mean():
    strategy, metrics = trained_one_epoch(init_p=0.1)
    posterior_mean = float(strategy.bank.drop_probs().detach().mean())
    assert metrics["mean_drop_p"] == pytest.approx(posterior_mean)
