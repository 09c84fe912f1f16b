"""Every registered evaluator: returns a Result with the search signal, cost and size, and the
same seed gives the same result."""

import numpy as np
import pytest
import torch

import nasforge.evaluators  # noqa: F401
from nasforge.data.base import tensor_task
from nasforge.registry import EVALUATORS
from nasforge.spaces.nb201 import NB201Space
from nasforge.spaces.rnn_cell import RnnCellSpace


def tiny_task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(96, 1, 16)).astype(np.float32)
    y = (x[:, 0, :8].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:64], y[:64], x[64:], y[64:], num_classes=2, seed=0,
                       batch_size=16)


@pytest.fixture(scope="module")
def supernet_checkpoint(tmp_path_factory):
    """A one-shot run's checkpoint.pt with a tiny NB201 supernet (one SPOS epoch)."""
    import nasforge

    run = tmp_path_factory.mktemp("supernet") / "run"
    nasforge.search(NB201Space(C=4, N=1), None, {"name": "spos", "epochs": 1},
                    selection="argmax", task=tiny_task(), device="cpu", run_dir=run)
    return run / "checkpoint.pt"


def make(name, checkpoint, seed=0):
    """How each registered evaluator is built for the contract (every name needs one)."""
    if name == "supernet":
        return EVALUATORS.build("supernet", space=NB201Space(C=4, N=1), task=tiny_task(),
                                device=torch.device("cpu"), checkpoint=str(checkpoint),
                                recalibration_batches=2, seed=seed)
    if name == "table":
        return EVALUATORS.build("table", space=NB201Space())
    if name == "train":
        return EVALUATORS.build("train", space=NB201Space(C=4, N=1), task=tiny_task(),
                                seed=seed, device=torch.device("cpu"), epochs=1)
    if name == "lm":
        return EVALUATORS.build("lm", space=RnnCellSpace(base=2, hidden=8), seed=seed,
                                cache_dir=str(checkpoint.parent.parent), synthetic_words=2000,
                                synthetic_vocab=10, bptt=10, epochs=1, max_batches=4)
    raise AssertionError(f"no contract entry for evaluator {name!r}")


@pytest.mark.parametrize("name", EVALUATORS.names())
def test_result_and_determinism(name, supernet_checkpoint):
    evaluator = make(name, supernet_checkpoint)
    space = getattr(evaluator, "space", None) or NB201Space()  # lm: cells of rnn_cell
    arch = space.sample(np.random.default_rng(0))
    first = evaluator.evaluate(arch)
    second = make(name, supernet_checkpoint).evaluate(arch)
    assert first.ok and np.isfinite(first.objective)
    assert first.cost > 0 and first.params and first.flops
    assert first.metrics == second.metrics
    assert first.params == second.params
