import math

import pytest

from nasforge.config import Budget
from nasforge.errors import ConfigError, RunDirError, SearchFailed, TrialFailed
from nasforge.evaluators.base import Evaluator, Result
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.run.directory import stored_status
from nasforge.run.executors import LocalExecutor
from nasforge.run.loop import run_search
from nasforge.run.store import best_trial
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.evolution import RegularizedEvolution


def score(arch) -> dict:
    convs = sum(op == "nor_conv_3x3" for op in arch.values())
    return {"valid_acc": float(convs), "cost": 10.0 + convs}


class Crash(Exception):
    pass


class DiesAt(Evaluator):
    """Simulates a killed process: raises a BaseException (not a trial failure) at call k."""

    def __init__(self, k: int) -> None:
        self.k, self.calls = k, 0

    def evaluate(self, arch):
        self.calls += 1
        if self.calls == self.k:
            raise KeyboardInterrupt
        return FunctionEvaluator(score).evaluate(arch)


def search(run_dir, evaluator, resume=False, seconds=None, trials=40):
    space = NB201Space()
    strategy = RegularizedEvolution(space, seed=7, population=8, sample_size=3)
    return run_search(space, evaluator, strategy, budget=Budget(trials=trials, seconds=seconds),
                      run_dir=run_dir, resume=resume, progress=False)


def test_resume_after_a_crash_gives_the_uninterrupted_sequence(tmp_path):
    full = search(tmp_path / "full", FunctionEvaluator(score))
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "cut", DiesAt(k=17))
    counting = DiesAt(k=-1)
    resumed = search(tmp_path / "cut", counting, resume=True)
    assert [t.arch for t in resumed.trials] == [t.arch for t in full.trials]
    assert counting.calls == 40 - 16  # finished trials are not evaluated again
    assert (tmp_path / "cut" / "best.json").is_file()


def test_seconds_budget_counts_costs():
    result = search(None, FunctionEvaluator(score), seconds=100, trials=None)
    costs = [t.result.cost for t in result.trials]
    assert sum(costs[:-1]) < 100 <= sum(costs)


def test_failed_trials_do_not_stop_the_search():
    def flaky(arch):
        if arch["1<-0"] == "none":
            raise TrialFailed("NaN loss")
        if arch["1<-0"] == "skip_connect":
            raise Crash("segfault-ish")
        return 1.0

    result = search(None, FunctionEvaluator(flaky), trials=30)
    statuses = {t.status for t in result.trials}
    assert statuses == {"ok", "failed"} and result.n_trials == 30
    assert any("Crash" in (t.result.error or "") for t in result.trials)
    assert best_trial(result.trials).result.ok


def test_refuses_an_existing_run_and_a_missing_one(tmp_path):
    search(tmp_path / "run", FunctionEvaluator(score), trials=2)
    with pytest.raises(RunDirError, match="already holds"):
        search(tmp_path / "run", FunctionEvaluator(score), trials=2)
    with pytest.raises(RunDirError, match="cannot resume"):
        search(tmp_path / "other", FunctionEvaluator(score), resume=True)


def test_a_budget_is_required():
    with pytest.raises(ConfigError, match="needs a budget"):
        search(None, FunctionEvaluator(score), trials=None)


def test_best_trial_ignores_failures_and_nan():
    calls = iter([math.nan, 1.0, math.nan])
    result = search(None, FunctionEvaluator(lambda a: next(calls)), trials=3)
    assert [t.status for t in result.trials] == ["failed", "ok", "failed"]
    assert best_trial(result.trials) is result.trials[1]
    assert Result.failed("x").objective == -math.inf


def test_a_search_in_which_no_trial_finished_fails_with_the_first_error(tmp_path):
    with pytest.raises(SearchFailed, match="no trial finished .3 of 3 failed.; trial 1: the "
                                           "function returned nan, not a finite number"):
        search(tmp_path / "run", FunctionEvaluator(lambda a: math.nan), trials=3)
    assert stored_status(tmp_path / "run") == "failed"


def test_callbacks_see_every_finished_trial():
    seen = []
    space = NB201Space()
    run_search(space, FunctionEvaluator(score), RegularizedEvolution(space, seed=0),
               budget=Budget(trials=5), callbacks=[lambda i, a, r: seen.append((i, r.ok))])
    assert seen == [(i, True) for i in range(1, 6)]


class NoCluster(LocalExecutor):
    """An executor whose start fails, as Ray's does when its cluster goes away."""

    def start(self, evaluator):
        raise ConfigError("cannot reach the cluster")


class CrashesAt(DiesAt):
    def evaluate(self, arch):
        self.calls += 1
        if self.calls == self.k:
            raise SystemExit(1)  # not a trial failure: the process goes
        return FunctionEvaluator(score).evaluate(arch)


def test_a_run_records_why_it_ended(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "cut", DiesAt(k=3))
    assert stored_status(tmp_path / "cut") == "interrupted"
    with pytest.raises(SystemExit):
        search(tmp_path / "crashed", CrashesAt(k=2))
    assert stored_status(tmp_path / "crashed") == "failed"
    assert stored_status(search(tmp_path / "ok", FunctionEvaluator(score), trials=2).run_dir
                         ) == "finished"


def test_a_failed_start_is_failed_and_its_directory_can_be_reused(tmp_path):
    space = NB201Space()
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError, match="cannot reach"):
        run_search(space, FunctionEvaluator(score), RegularizedEvolution(space, seed=0),
                   budget=Budget(trials=3), run_dir=run_dir, executor=NoCluster())
    assert stored_status(run_dir) == "failed"  # not "running" forever
    result = search(run_dir, FunctionEvaluator(score), trials=3)  # --out the same directory
    assert result.n_trials == 3 and stored_status(run_dir) == "finished"
    with pytest.raises(RunDirError, match="already holds"):  # a run with trials is kept
        search(run_dir, FunctionEvaluator(score), trials=3)
