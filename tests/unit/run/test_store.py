import pytest

from nasforge.architecture import Architecture
from nasforge.errors import RunDirError
from nasforge.evaluators.base import Result
from nasforge.run.store import TrialStore


def test_trials_and_state_round_trip(tmp_path):
    with TrialStore(tmp_path / "t.sqlite") as store:
        tid = store.start(Architecture(a=1), "k1")
        store.finish(tid, Result(metrics={"valid_acc": 5.0}, cost=2.0, params=10),
                     {"rng": [1, 2]})
        store.start(Architecture(a=2), "k2")  # in flight when the run died
        store.set_meta("status", "running")
    with TrialStore(tmp_path / "t.sqlite") as store:
        assert [t.status for t in store.trials()] == ["ok", "running"]
        assert store.discard_running() == 1
        (trial,) = store.trials()
        assert trial.arch == Architecture(a=1) and trial.result.metrics == {"valid_acc": 5.0}
        assert trial.result.cost == 2.0 and trial.result.params == 10
        assert store.load_state() == (tid, {"rng": [1, 2]})
        assert store.get_meta("status") == "running" and store.get_meta("nope", 3) == 3


def test_failed_trials_keep_their_error(tmp_path):
    with TrialStore(tmp_path / "t.sqlite") as store:
        tid = store.start(Architecture(a=1), "k")
        store.finish(tid, Result.failed("NaN loss", cost=1.5))
        (trial,) = store.trials(status="failed")
        assert trial.result.error == "NaN loss" and not trial.result.ok


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "trials.sqlite"
    path.write_text("this is not a database" * 100)
    with pytest.raises(RunDirError, match="not a nasforge trial store"):
        TrialStore(path)


class _InterruptedAround:
    """The store's connection, with a Ctrl-C landing just before or just after COMMIT."""

    def __init__(self, db, after_commit):
        self.db, self.after_commit = db, after_commit

    def execute(self, sql, *args):
        if sql == "COMMIT":
            if self.after_commit:
                self.db.execute(sql)
            raise KeyboardInterrupt
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


@pytest.mark.parametrize("after_commit", [False, True])
def test_ctrl_c_at_commit_reaches_the_caller_and_leaves_no_half_trial(tmp_path, after_commit):
    with TrialStore(tmp_path / "t.sqlite") as store:
        real = store.db
        store.db = _InterruptedAround(real, after_commit)
        with pytest.raises(KeyboardInterrupt):
            store.start(Architecture(a=1), "k", {"rng": [1]})
        store.db = real
        assert not real.in_transaction
        trials = store.trials()
        # before COMMIT: rolled back; after: the trial is stored whole (state included)
        assert [t.status for t in trials] == (["running"] if after_commit else [])
        assert (store.load_state() is not None) == after_commit
