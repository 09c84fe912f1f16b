"""The Python API runs the CLI's plan: executors and data-parallel training from Python."""

from __future__ import annotations

from pathlib import Path

import pytest

import nasforge
from nasforge.errors import ConfigError

SPACE = {"name": "nb201", "C": 4, "N": 1}
TASK = {"name": "mnist1d", "num_samples": 600, "train_size": 200, "valid_fraction": 0.5,
        "batch_size": 50}
DARTS = {"name": "darts", "epochs": 1, "max_batches": 2}


def test_a_supernet_trains_data_parallel_from_python(tmp_path: Path) -> None:
    result = nasforge.search(SPACE, None, DARTS, task=TASK, selection="argmax",
                             distributed=2, run_dir=tmp_path / "ddp", progress=False)
    assert result.best is not None and result.best.status == "ok"
    assert "nproc: 2" in (tmp_path / "ddp" / "config.yaml").read_text()


def test_a_named_executor_runs_the_candidates(tmp_path: Path) -> None:
    result = nasforge.search(SPACE, {"name": "train", "epochs": 1}, "random", task=TASK,
                             trials=2, executor={"name": "process", "workers": 2},
                             run_dir=tmp_path / "pool", progress=False)
    assert result.n_trials == 2
    assert "executor" in (tmp_path / "pool" / "config.yaml").read_text()


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(strategy=DARTS, selection="argmax", distributed=2, evaluator=lambda a: 1.0),
     "distributed= needs every component given by name"),
    (dict(strategy=DARTS, selection="argmax", distributed=2), "needs a run directory"),
    (dict(strategy="random", trials=2, evaluator=lambda a: 1.0, distributed=2),
     "distributed= is for one-shot supernet training"),
    (dict(strategy="random", trials=2, evaluator=lambda a: 1.0, workers=2, executor="process"),
     "workers= or executor=, not both"),
    (dict(strategy=DARTS, selection="argmax", executor="process"), "drop workers= and executor="),
])
def test_plans_the_python_api_refuses(kwargs, message) -> None:
    args = dict(space=SPACE, evaluator=None, task=TASK, progress=False) | kwargs
    with pytest.raises(ConfigError, match=message):
        nasforge.search(**args)
