import math

import numpy as np
import pytest
import torch

from nasforge.architecture import Categorical
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.spaces.base import FunctionSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.controller import RLController


def conv_share(arch) -> float:
    return 100.0 * sum(op == "nor_conv_3x3" for op in arch.values()) / len(arch)


def drive(strategy, steps, objective=conv_share):
    rewards = []
    for _ in range(steps):
        arch = strategy.ask()
        value = objective(arch)
        strategy.tell(arch, Result(metrics={"valid_acc": value}))
        rewards.append(value)
    return rewards


def test_reinforce_climbs_on_a_toy_objective():
    strategy = RLController(NB201Space(), seed=0, lr=0.01)
    rewards = drive(strategy, 480)
    assert np.mean(rewards[:80]) < 40 < 80 < np.mean(rewards[-80:])  # random: 20% conv
    entropy = [row["entropy"] for row in strategy.history]
    assert entropy[-1] < 0.5 * entropy[0]


class Layered(FunctionSpace):
    """Three layers, each with a width token, and connections j -> i (the macro space's API)."""

    def __init__(self):
        decisions = [Categorical("depth", [1, 2, 3])]
        for i in range(3):
            decisions.append(Categorical(f"L{i}/width", [8, 16]))
            decisions += [Categorical(f"L{i}/in{j}", [0, 1]) for j in range(i)]
        super().__init__(decisions, name="layered")

    def anchor_decisions(self):
        return {f"L{i}/in{j}": (i, j) for i in range(3) for j in range(i)}

    def layer_of(self, label):
        return int(label[1]) if label.startswith("L") else None

    def layer_decisions(self, i):
        return [d for d in self.decisions if d.label == f"L{i}/width"]


def test_anchor_probabilities_follow_the_attention_formula():
    strategy = RLController(Layered(), seed=0)
    net = strategy.net
    steps = strategy.layout.steps(3)
    hidden = []
    original = net._distributions

    def spy(step, h, anchors):
        hidden.append((step, h.detach(), dict(anchors)))
        return original(step, h, anchors)

    net._distributions = spy
    with torch.no_grad():
        tokens, _, _ = net.run(steps, generator=torch.Generator().manual_seed(0))
    step, h, anchors = hidden[-1]  # layer 2's anchor step: inputs 0 and 1
    assert step.layer == 2 and step.inputs == (0, 1)
    dists = original(step, h, anchors)
    for j, dist in zip(step.inputs, dists, strict=True):
        score = net.v(torch.tanh(net.w_prev(anchors[j]) + net.w_curr(h)))
        assert torch.allclose(dist.probs, torch.sigmoid(score).squeeze(-1))
    assert len(tokens) == 3 + 0 + 1 + 2  # 3 widths and 3 connection bits


def test_connections_are_learned_and_the_curriculum_grows_the_depth():
    space = Layered()
    strategy = RLController(space, seed=1, lr=0.02, batch=4,
                            curriculum={"start": 2, "step": 1, "every": 40})
    depths = []

    def wants_connections(arch):
        depths.append(arch["depth"])
        return 100.0 * (arch["L1/in0"] + arch.get("L2/in1", 0)) / 2

    drive(strategy, 200, wants_connections)
    assert depths[0] == 2 and depths[45] == 3 and depths[-1] == 3
    late = strategy.history[-5:]
    assert np.mean([row["reward_mean"] for row in late]) > 0.8


def test_failed_or_nan_results_never_update_the_controller():
    strategy = RLController(NB201Space(), seed=0, batch=2)
    before = [p.detach().clone() for p in strategy.net.parameters()]
    for value in (math.nan, math.inf):
        strategy.tell(strategy.ask(), Result(metrics={"valid_acc": value}))
    strategy.tell(strategy.ask(), Result.failed("boom"))
    assert strategy.updates == 0 and not strategy.buffer
    assert all(torch.equal(a, b) for a, b in zip(before, strategy.net.parameters(), strict=True))


def test_staleness_is_recorded_and_bounded():
    strategy = RLController(NB201Space(), seed=0, batch=2, max_staleness=1)
    early = [strategy.ask() for _ in range(6)]  # asked before any update: version 0
    for arch in early:
        strategy.tell(arch, Result(metrics={"valid_acc": 50.0}))
    # results 1-2 update (staleness 0), 3-4 arrive one update late, 5-6 two updates late
    assert strategy.updates == 2
    assert [row["staleness_max"] for row in strategy.history if "reward_mean" in row] == [0, 1]
    assert sum("dropped_stale" in row for row in strategy.history) == 2


def test_a_space_without_decisions_is_refused():
    with pytest.raises(ConfigError, match="categorical"):
        RLController(FunctionSpace([]))
    with pytest.raises(ConfigError, match="curriculum"):
        RLController(NB201Space(), curriculum={"start": 6, "step": 2, "every": 10})


def test_the_macro_space_is_written_layer_by_layer_with_anchors():
    from nasforge.spaces.macro import MacroSpace

    space = MacroSpace(max_layers=4, search_stride=True)
    strategy = RLController(space, seed=0, batch=2,
                            curriculum={"start": 2, "step": 1, "every": 6})
    asked = []
    drive(strategy, 16, lambda arch: asked.append(arch) or 50.0)
    assert all(space.contains(a) for a in asked)
    assert [a["depth"] for a in asked][:6] == [2] * 6 and asked[-1]["depth"] == 4
    assert len(strategy.layout.steps(3)) == 3 * (4 + 1)  # 4 tokens + an anchor step per layer
