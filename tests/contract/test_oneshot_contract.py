"""Every registered one-shot strategy on every space with a supernet, and every selection:
one epoch trains, the same seed gives the same supernet, state_dict round trips, and each
selection returns an architecture of the space."""

import copy

import numpy as np
import pytest
import torch

import nasforge
import nasforge.selection  # noqa: F401
import nasforge.spaces  # noqa: F401
import nasforge.strategies  # noqa: F401
import nasforge.supernet  # noqa: F401  (registers the supernets)
from nasforge.config import Component
from nasforge.data.base import tensor_task
from nasforge.errors import ConfigError
from nasforge.registry import SELECTIONS, SPACES, STRATEGIES, SUPERNETS
from nasforge.run.components import build, build_selection
from nasforge.selection.base import SelectionContext
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.training import seeded

ONE_SHOT = [n for n in STRATEGIES.names() if issubclass(STRATEGIES.get(n), OneShotStrategy)]
OPTIONS = {"darts": {"epochs": 1, "max_batches": 2}, "spos": {"epochs": 1, "max_batches": 2},
           "pgnas": {"epochs": 1, "max_batches": 2}}
# (strategy, space) pairs without a supernet: building one must be a clear ConfigError.
UNSUPPORTED = {("pgnas", "darts"), ("pgnas", "shufflenet")}
# The supernet each selection works on (default: DARTS's).
SELECTION_STRATEGY = {"posterior": "pgnas"}
SELECTION_STRATEGY_OF = {"pgnas": "posterior"}  # the selection that fits each strategy
SELECTION_OPTIONS = {
    "argmax": {},
    "perturbation": {"finetune_epochs": 0, "valid_batches": 1},
    "posterior": {"candidates": 3, "valid_batches": 1},
    "evolution": {"recalibration_batches": 1, "valid_batches": 1,
                  "strategy": {"population": 4, "generations": 2, "top_k": 2, "mutation": 1,
                               "crossover": 1}},
}
SMALL_SPACES = {"nb201": {"C": 4, "N": 1}, "darts": {"C": 2, "layers": 3},
                "shufflenet": {"width_mult": 0.25, "repeats": [1, 1, 1, 1],
                               "channel_scales": [0.5, 1.0], "bits": [4, 32]}}
WITH_SUPERNET = [n for n in SPACES.names() if n in SUPERNETS]


def test_every_one_shot_component_has_an_entry():
    assert set(ONE_SHOT) <= set(OPTIONS)
    assert set(SELECTIONS.names()) <= set(SELECTION_OPTIONS)
    assert {"nb201", "darts", "shufflenet"} <= set(WITH_SUPERNET)


@pytest.mark.parametrize("name", ONE_SHOT)
def test_a_checkpoint_is_rebuilt_by_the_factory_that_made_it(name, tmp_path):
    """The ``supernet`` evaluator loads a run's checkpoint into the supernet the run trained
    (a PGNAS run's is gated), every weight as saved."""
    space = SPACES.build("nb201", **SMALL_SPACES["nb201"])
    task = tiny_task()
    strategy = STRATEGIES.build(name, space=space, seed=0,
                                **{**OPTIONS[name], "max_batches": 1})
    selection = SELECTION_STRATEGY_OF.get(name, "argmax")
    nasforge.search(space, None, strategy, task=task, device="cpu", run_dir=tmp_path / "run",
                    selection={"name": selection, **SELECTION_OPTIONS[selection]})
    evaluator = build("evaluator", Component("supernet", {"checkpoint": str(tmp_path / "run"),
                                                          "recalibration_batches": 1}),
                      space=space, task=task, device=torch.device("cpu"))
    assert type(evaluator.supernet) is type(strategy.supernet)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["supernet"]
    loaded = evaluator.supernet.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)


def tiny_task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(80, 3, 12, 12)).astype(np.float32)
    y = (x[:, 0].mean((1, 2)) > 0).astype(np.int64)
    return tensor_task("tiny", x[:64], y[:64], x[64:], y[64:], num_classes=2, seed=0,
                       batch_size=16, valid_fraction=0.5)


def trained(name, space_name, seed=0):
    space = SPACES.build(space_name, **SMALL_SPACES[space_name])
    task = tiny_task()
    strategy = STRATEGIES.build(name, space=space, seed=seed, **OPTIONS[name])
    with seeded(seed):
        net = strategy.make_supernet(task.shape)
    strategy.setup(net, task, torch.device("cpu"))
    strategy.train_epoch(0)
    return space, task, net, strategy


@pytest.mark.parametrize("name", ONE_SHOT)
@pytest.mark.parametrize("space_name", WITH_SUPERNET)
def test_train_reproduce_and_round_trip(name, space_name):
    if (name, space_name) in UNSUPPORTED:
        with pytest.raises(ConfigError, match="no gated supernet|no supernet"):
            trained(name, space_name)
        return
    _, _, net_a, strat_a = trained(name, space_name)
    _, _, net_b, strat_b = trained(name, space_name)
    for (k, a), b in zip(net_a.state_dict().items(), net_b.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    # A resume restores the strategy and the supernet (architecture parameters may live in
    # either: DARTS's alpha in the strategy, PGNAS's drop probabilities in the supernet).
    state = copy.deepcopy(strat_a.state_dict())
    _, _, net_c, strat_c = trained(name, space_name, seed=1)
    strat_c.load_state_dict(state)
    net_c.load_state_dict(net_a.state_dict())
    assert torch.equal(strat_c.op_strengths(), strat_a.op_strengths())


@pytest.mark.parametrize("selection", SELECTIONS.names())
@pytest.mark.parametrize("space_name", WITH_SUPERNET)
def test_selection_returns_an_architecture_of_the_space(selection, space_name):
    if (SELECTION_STRATEGY.get(selection, "darts"), space_name) in UNSUPPORTED:
        return
    space, task, net, strategy = trained(SELECTION_STRATEGY.get(selection, "darts"), space_name)
    ctx = SelectionContext(net, strategy, task, torch.device("cpu"), np.random.default_rng(0),
                           space=space)
    arch = build_selection(Component(selection, SELECTION_OPTIONS[selection])).select(ctx)
    assert space.contains(arch)
    assert ctx.scores
