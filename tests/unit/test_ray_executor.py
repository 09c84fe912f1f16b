"""The Ray executor on a local Ray cluster of 2 workers (started and stopped by the test)."""


import pytest
from worker_functions import conv_share, dies_once, wait_policy_and_threads

from nasforge.config import Budget
from nasforge.errors import ConfigError
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.run.loop import run_search
from nasforge.run.ray_executor import RayExecutor
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.random import RandomSearch

pytest.importorskip("ray")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # this process looks active (no env)
def test_search_on_a_local_ray_cluster_with_a_killed_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("NASFORGE_TEST_MARKER", str(tmp_path / "marker"))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)  # Ray's workers get it from us
    result = run_search(NB201Space(), FunctionEvaluator(wait_policy_and_threads),
                        RandomSearch(NB201Space()), budget=Budget(trials=6),
                        run_dir=tmp_path / "run", executor=RayExecutor(workers=2))
    assert result.n_trials == 6 and all(t.status == "ok" for t in result.trials)
    assert all(t.result.metrics["passive"] == 1.0 and t.result.metrics["threads"] == 1.0
               for t in result.trials)
    retried = run_search(NB201Space(), FunctionEvaluator(dies_once), RandomSearch(NB201Space()),
                         budget=Budget(trials=2), executor=RayExecutor(workers=2))
    assert retried.n_trials == 2 and all(t.status == "ok" for t in retried.trials)
    assert (tmp_path / "marker").exists()  # a worker did die, and its trial was retried


def test_an_unreachable_address_fails_fast_naming_it():
    executor = RayExecutor(address="127.0.0.1:1", connect_timeout=1.0)
    with pytest.raises(ConfigError, match="127.0.0.1:1"):
        executor.start(FunctionEvaluator(conv_share))
