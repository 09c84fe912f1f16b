import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from nasforge.data.base import tensor_task
from nasforge.errors import ConfigError
from nasforge.selection.argmax import ArgmaxSelection
from nasforge.selection.base import SelectionContext
from nasforge.selection.perturbation import PerturbationSelection
from nasforge.selection.posterior import PosteriorSampling
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.darts import DartsSearch
from nasforge.supernet import build_supernet
from nasforge.supernet.gates import ChannelGate, GateBank
from nasforge.task import Shape


def tiny_task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(120, 1, 16)).astype(np.float32)
    y = (x[:, 0, :4].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:96], y[:96], x[96:], y[96:], num_classes=2, seed=0,
                       batch_size=32, valid_fraction=0.5)


def context(epochs=0, seed=0):
    space = NB201Space(C=4, N=1)
    task = tiny_task()
    net = build_supernet(space, task.shape)
    strategy = DartsSearch(space, seed=seed, epochs=epochs)
    strategy.setup(net, task, torch.device("cpu"))
    for epoch in range(epochs):
        strategy.train_epoch(epoch)
    return SelectionContext(net, strategy, task, torch.device("cpu"), np.random.default_rng(0))


def test_argmax_takes_the_largest_alpha_never_none():
    ctx = context()
    with torch.no_grad():
        ctx.strategy.alpha.zero_()
        ctx.strategy.alpha[:, 0] = 5.0  # none strongest everywhere: must be skipped
        ctx.strategy.alpha[:, 3] = 2.0  # then nor_conv_3x3
        ctx.strategy.alpha[2, 1] = 3.0  # edge 2<-1 prefers skip
    arch = ArgmaxSelection().select(ctx)
    assert arch["2<-1"] == "skip_connect"
    assert all(arch[e] == "nor_conv_3x3" for e in arch if e != "2<-1")
    with_none = ArgmaxSelection(allow_none=True).select(ctx)  # NB201's own DARTS genotype
    assert all(op == "none" for op in with_none.values())


class ScriptedPT(PerturbationSelection):
    """Accuracy drops most when nor_conv_1x1 is removed on even edges, avg_pool on odd ones."""

    def valid_accuracy(self, ctx):
        state = ctx.supernet.arch_state
        acc = 90.0
        for e, _edge in enumerate(state.edges):
            if e in state.fixed:
                continue
            key = "nor_conv_1x1" if e % 2 == 0 else "avg_pool_3x3"
            if state.mask[e, state.ops[e].index(key)] == 0:
                acc -= 10.0 + e
        return acc


def test_perturbation_keeps_the_op_whose_removal_hurts_most():
    ctx = context()
    saved = []
    ctx.save = saved.append
    arch = ScriptedPT(finetune_epochs=0).select(ctx)
    for e, edge in enumerate(ctx.supernet.edges):
        assert arch[edge] == ("nor_conv_1x1" if e % 2 == 0 else "avg_pool_3x3")
    assert len(saved) == 6 and len(ctx.scores) == 6 * 5  # one round per edge, 5 ops each


def test_perturbation_on_a_trained_supernet_resumes_from_its_progress():
    ctx = context(epochs=1)
    states = []
    ctx.save = states.append
    first = PerturbationSelection(finetune_epochs=1, valid_batches=1).select(ctx)
    assert NB201Space().contains(first)
    # Restarting from the progress saved after round 6 returns the same architecture.
    again = context(epochs=1)
    for edge, op in states[-1]["decided"].items():
        again.supernet.discretize(edge, op)
    again.state = states[-1]
    assert PerturbationSelection(finetune_epochs=1, valid_batches=1).select(again) == first


def test_perturbation_measures_on_mixed_valid_batches_of_a_class_sorted_split():
    """Batch norm runs in train mode there: a valid split stored class by class must still
    be measured on batches of both classes, the same batches every time."""
    ctx = context()
    x, y = (t[torch.argsort(ctx.task.valid.tensors[1], stable=True)]
            for t in ctx.task.valid.tensors)
    ctx.task = dataclasses.replace(ctx.task, valid=TensorDataset(x, y), batch_size=16)
    label_of = {row.numpy().tobytes(): int(label) for row, label in zip(x, y, strict=True)}
    seen: list[list[int]] = []
    ctx.supernet.register_forward_pre_hook(
        lambda module, args: seen.append([label_of[r.numpy().tobytes()] for r in args[0]]))
    pt = PerturbationSelection(valid_batches=1)
    pt.valid_accuracy(ctx)
    pt.valid_accuracy(ctx)
    assert len(seen) == 2 and seen[0] == seen[1]
    assert set(seen[0]) == {0, 1}, seen[0]


def test_darts_second_order_and_fixed_alpha_steps():
    for kwargs in ({"order": 2}, {"fixed_alpha": True}):
        space = NB201Space(C=4, N=1)
        task = tiny_task()
        net = build_supernet(space, Shape((1, 16), 2))
        strategy = DartsSearch(space, seed=0, epochs=1, **kwargs)
        strategy.setup(net, task, torch.device("cpu"))
        before = strategy.alpha.detach().clone()
        metrics = strategy.train_epoch(0)
        assert np.isfinite(metrics["train_loss"])
        changed = not torch.equal(before, strategy.alpha.detach())
        assert changed == (not kwargs.get("fixed_alpha", False))


def test_perturbation_fine_tunes_between_decisions_not_after_the_last():
    ctx = context()
    calls = []
    ctx.strategy.finetune_epoch = lambda epoch: calls.append(epoch) or {}
    ScriptedPT(finetune_epochs=2).select(ctx)
    assert calls == list(range(2 * 5))  # 6 NB201 edges -> 5 gaps of 2 epochs


def test_posterior_sampling_rates():
    bank = GateBank(["conv"], ["a", "b"], init_p=0.5, tau=0.5)
    ChannelGate(bank, 0, 0, units=3, fan_in=3, owner=torch.nn.Conv1d(3, 2, 1))
    ChannelGate(bank, 0, 1, units=1, fan_in=1, owner=torch.nn.Conv1d(1, 2, 1))
    with torch.no_grad():
        bank.logit_p.copy_(torch.logit(torch.tensor([[0.2, 0.6]])))
    assert PosteriorSampling(sampling="guided").sampling_rate(bank) is None
    assert PosteriorSampling(sampling="fixed", fixed_rate=0.4).sampling_rate(bank) == 0.4
    rate = PosteriorSampling(sampling="mean_rate").sampling_rate(bank)
    assert rate == pytest.approx(0.3, rel=1e-5)
    with pytest.raises(ConfigError, match="mean_rate"):
        PosteriorSampling(sampling="sometimes")
