"""Passive OpenMP waiting for every process nasforge starts; a user's explicit policy wins."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from worker_functions import wait_policy_and_threads

from nasforge.config import Budget
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.run.executors import ProcessExecutor
from nasforge.run.loop import run_search
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.random import RandomSearch
from nasforge.threads import child_environment, contention_warning, worker_environment

ROOT = Path(__file__).resolve().parents[2]

# Imports the CLI as the console script does, then runs a command; prints what it saw.
CLI_CHILD = """
import os, sys
from nasforge.cli import main
loaded_before = 'torch' in sys.modules
main(['runs', 'list', sys.argv[1]], standalone_mode=False)
print(loaded_before, os.environ.get('OMP_WAIT_POLICY'))
"""


def cli_child(tmp_path: Path, policy: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", CLI_CHILD, str(tmp_path)], env=env,
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.split()[-2:]


def test_the_cli_sets_passive_waiting_before_torch_loads_unless_the_user_chose(tmp_path):
    assert cli_child(tmp_path, None) == ["False", "PASSIVE"]
    assert cli_child(tmp_path, "ACTIVE") == ["False", "ACTIVE"]


def test_worker_environment_keeps_the_users_policy_and_follows_the_cpu_share():
    assert worker_environment(3, {}) == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "3",
                                         "MKL_NUM_THREADS": "3"}
    user = {"OMP_WAIT_POLICY": "active", "OMP_NUM_THREADS": "8"}
    assert worker_environment(2, user)["OMP_WAIT_POLICY"] == "active"
    assert worker_environment(2, user)["OMP_NUM_THREADS"] == "2"


def test_child_environment_restores_this_processs_environment(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with child_environment(2):
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
        assert os.environ["OMP_NUM_THREADS"] == "2"
    assert "OMP_WAIT_POLICY" not in os.environ and os.environ["OMP_NUM_THREADS"] == "7"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the parent test process looks active
def test_process_workers_wait_passively_with_their_cpu_share_of_threads(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)  # only the executor can set it
    result = run_search(NB201Space(), FunctionEvaluator(wait_policy_and_threads),
                        RandomSearch(NB201Space()), budget=Budget(trials=1),
                        executor=ProcessExecutor(workers=1, cpus_per_trial=2))
    metrics = result.trials[0].result.metrics
    assert metrics["passive"] == 1.0 and metrics["threads"] == 2.0


def test_contention_warns_only_for_active_waiting_beyond_the_free_cores(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (cores - 0.9, 0.0, 0.0))  # ~one free core
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    if cores > 1:
        assert "OMP_WAIT_POLICY=PASSIVE" in (contention_warning() or "")
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    assert contention_warning() is None
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # a quiet machine
    assert contention_warning() is None


def test_a_search_warns_once_when_torch_spins_on_busy_cores(monkeypatch):
    monkeypatch.setattr("nasforge.threads.contention_warning", lambda: "spinning")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(2):
            run_search(NB201Space(), FunctionEvaluator(lambda a: 1.0),
                       RandomSearch(NB201Space()), budget=Budget(trials=1))
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == ["spinning"]


def test_the_package_exports_what_it_lists():
    import nasforge

    assert sorted(nasforge.__all__) == sorted(nasforge._HOMES)
    assert all(getattr(nasforge, name) is not None for name in nasforge.__all__)
    with pytest.raises(AttributeError):
        _ = nasforge.no_such_name
