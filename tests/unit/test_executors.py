
import time

import numpy as np
import pytest
from worker_functions import conv_share, dies_once, sleeps

import nasforge
from nasforge.config import Budget
from nasforge.errors import ConfigError
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.run.components import make_executor
from nasforge.run.executors import ProcessExecutor
from nasforge.run.loop import run_search
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.controller import RLController
from nasforge.strategies.random import RandomSearch


def test_two_workers_finish_every_trial_asynchronously(tmp_path):
    strategy = RLController(NB201Space(), seed=0, batch=2)
    result = run_search(NB201Space(), FunctionEvaluator(conv_share), strategy,
                        budget=Budget(trials=12), run_dir=tmp_path / "run",
                        executor=ProcessExecutor(workers=2))
    assert result.n_trials == 12 and all(t.status == "ok" for t in result.trials)
    # with two children in flight, some rewards reach a controller that moved on meanwhile
    assert max(row["staleness_max"] for row in strategy.history) >= 1


def test_a_worker_killed_mid_trial_is_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("NASFORGE_TEST_MARKER", str(tmp_path / "marker"))
    result = run_search(NB201Space(), FunctionEvaluator(dies_once), RandomSearch(NB201Space()),
                        budget=Budget(trials=3), executor=ProcessExecutor(workers=2))
    assert result.n_trials == 3 and all(t.status == "ok" for t in result.trials)


def test_api_workers_and_bad_executors():
    result = nasforge.search("nb201", conv_share, "random", trials=4, workers=2)
    assert result.n_trials == 4
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor({"name": "cluster"})
    with pytest.raises(ConfigError, match="did you mean process"):
        make_executor({"name": "proces"})
    with pytest.raises(ConfigError, match="this machine has"):
        ProcessExecutor(workers=10_000)


def test_closing_mid_trial_stops_the_worker_instead_of_waiting():
    """Ctrl-C during a long trial: the search stops now (resume runs the trial again)."""
    executor = ProcessExecutor(workers=1)
    executor.start(FunctionEvaluator(sleeps))
    executor.submit(1, NB201Space().sample(np.random.default_rng(0)))
    start = time.perf_counter()
    executor.close()
    assert time.perf_counter() - start < 30
