"""Every one-shot strategy on every space with a supernet, off the CPU's float32 without a GPU:

- on the meta device (tensors without data, on a device of their own), a training step runs
  end to end: a tensor a verb makes on the CPU, or a step that waits for the device
  (``.item()``, ``.cpu()``, ``bool(tensor)``), fails there as it would on a GPU;
- in float64 (``precision: 64-true``), an epoch, every selection and the export run: a tensor
  made in the default float32 (a one-hot path, a mask, an input) fails as a CPU tensor does
  next to CUDA weights. The code before this test failed both (SPOS's set_path).
"""

import numpy as np
import pytest
import torch
from test_oneshot_contract import (  # noqa: I001  (a sibling test module)
    ONE_SHOT,
    OPTIONS,
    SELECTION_OPTIONS,
    SELECTION_STRATEGY_OF,
    SMALL_SPACES,
    UNSUPPORTED,
    WITH_SUPERNET,
    tiny_task,
)

import nasforge.selection  # noqa: F401
import nasforge.supernet  # noqa: F401  (registers the supernets)
from nasforge.config import Component
from nasforge.registry import SPACES, STRATEGIES
from nasforge.run.components import build_selection
from nasforge.runtime import Runtime
from nasforge.selection.base import SelectionContext
from nasforge.training import seeded, split_batches

PAIRS = [(n, s) for n in ONE_SHOT for s in WITH_SUPERNET if (n, s) not in UNSUPPORTED]
META = Runtime(torch.device("meta"))
FLOAT64 = Runtime(precision="64-true")


def set_up(name: str, space_name: str, runtime: Runtime):
    space = SPACES.build(space_name, **SMALL_SPACES[space_name])
    task = tiny_task()
    strategy = STRATEGIES.build(name, space=space, seed=0, **OPTIONS[name])
    with seeded(0):
        net = strategy.make_supernet(task.shape)
    runtime.place(net)
    strategy.setup(net, task, runtime)
    return space, task, net, strategy


@pytest.mark.parametrize(("name", "space_name"), PAIRS)
def test_a_training_step_runs_on_the_meta_device(name, space_name):
    _, _, net, strategy = set_up(name, space_name, META)
    trainer = strategy.trainer
    batch = next(trainer.batches(strategy, "train", 0, augment=True))
    valid = next(trainer.batches(strategy, "valid", 0, augment=False))
    assert batch[0].device.type == "meta"
    for phase in ("search", "finetune"):
        out = trainer.step(strategy, batch, valid if strategy.uses_valid else None, phase)
        assert out.loss.device.type == "meta"
    assert all(p.device.type == "meta" for p in net.parameters())


@pytest.mark.parametrize(("name", "space_name"), PAIRS)
def test_an_epoch_a_selection_and_the_export_run_in_float64(name, space_name):
    space, task, net, strategy = set_up(name, space_name, FLOAT64)
    metrics = strategy.train_epoch(0)
    assert np.isfinite(metrics["train_acc"])
    selection = {"darts": "perturbation", "spos": "evolution"}.get(
        name, SELECTION_STRATEGY_OF.get(name, "argmax"))
    options = dict(SELECTION_OPTIONS[selection])
    if selection == "perturbation" and space_name == "nb201":  # fine-tuning too (28 rounds
        options["finetune_epochs"] = 1  # of it on the DARTS space would take 20 s)
    ctx = SelectionContext(net, strategy, task, FLOAT64, np.random.default_rng(0), space=space)
    arch = build_selection(Component(selection, options)).select(ctx)
    assert space.contains(arch) and ctx.scores
    if selection != "posterior":  # a posterior export needs the winner's masks set
        model = net.export(arch)
        x, _ = next(split_batches(task, "valid", FLOAT64))
        assert model.eval()(x).dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in net.parameters())
