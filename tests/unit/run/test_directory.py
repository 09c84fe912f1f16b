"""RunDir: the one run-directory life cycle both flows (ask/tell, one-shot) go through: a lock
for the life of the process that runs it, a directory valid from its first byte, and the
statuses runs end with."""

import multiprocessing
import os

import numpy as np
import pytest

from nasforge.commands.runs import run_summary
from nasforge.config import config_from_dict
from nasforge.errors import RunDirError
from nasforge.run.directory import PYTHON, RunDir, check_run_dir, started, stored_status
from nasforge.run.lock import LOCK_NAME, RunLock, holder
from nasforge.run.store import STORE_NAME, TrialStore
from nasforge.spaces.nb201 import NB201Space

CONFIG = config_from_dict({"space": "nb201", "evaluator": "table", "strategy": "random",
                           "budget": {"trials": 2}})


def run(path, resume=False, config=CONFIG, advice=None):
    """Enter a RunDir and its store (both context managers), as the loops do."""
    directory = RunDir(path, resume=resume) if advice is None else RunDir(path, resume=resume,
                                                                          advice=advice)
    return directory, directory.running(space=NB201Space(), evaluator=None, config=config)


def test_create_status_config_once_and_refusal(tmp_path):
    run_dir = tmp_path / "run"
    directory, running = run(run_dir)
    with directory, running as store:
        assert store.get_meta("status") == "running"
        assert store.get_meta("space")["name"] == "nb201"
        store.start(NB201Space().sample(np.random.default_rng(0)), "k")
    assert stored_status(run_dir) == "finished"
    written = (run_dir / "config.yaml").read_text()
    directory, running = run(run_dir, config=None)
    with pytest.raises(RunDirError, match="already holds a run; pass --resume"), directory:
        pass
    directory, running = run(run_dir, config=None, advice=PYTHON)
    with pytest.raises(RunDirError, match="pass resume=True to continue it, or choose another "
                                          "run_dir="), directory:
        pass
    (run_dir / "config.yaml").write_text(written + "# kept\n")
    directory, running = run(run_dir, resume=True)
    with directory, running as store:
        assert store.get_meta("status") == "running"
    assert (run_dir / "config.yaml").read_text().endswith("# kept\n")  # written once


@pytest.mark.parametrize("error, status", [(KeyboardInterrupt, "interrupted"),
                                           (RuntimeError, "failed")])
def test_an_early_end_is_recorded(tmp_path, error, status):
    directory, running = run(tmp_path)
    with pytest.raises(error), directory, running:
        raise error()
    assert stored_status(tmp_path) == status


def test_in_memory_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    directory, running = run(None)
    with directory, running as store:
        assert isinstance(store, TrialStore)
    assert not any(tmp_path.iterdir()) and not (tmp_path / STORE_NAME).exists()


def test_one_process_at_a_time_and_the_lock_ends_with_it(tmp_path):
    directory, running = run(tmp_path / "run")
    with directory, running:
        assert holder(tmp_path / "run") == holder(tmp_path / "run") is not None
        assert f"process {os.getpid()}" in holder(tmp_path / "run")
        for resume in (True, False):
            with pytest.raises(RunDirError, match=f"in use by process {os.getpid()}"):
                check_run_dir(tmp_path / "run", resume=resume)
            second, _ = run(tmp_path / "run", resume=resume)
            with pytest.raises(RunDirError, match="in use by process"), second:
                pass
    assert holder(tmp_path / "run") is None  # released: the directory is free again


def _hold_and_die(path, ready):
    RunLock(path).acquire()
    ready.set()
    os._exit(9)  # as kill -9 would end it: no cleanup code runs


def test_a_dead_process_holds_no_lock_and_its_running_run_shows_so(tmp_path):
    run_dir = tmp_path / "run"
    directory, running = run(run_dir)
    with directory, running as store:
        store.set_meta("status", "running")
    with TrialStore(run_dir / STORE_NAME) as store:  # as a kill -9 mid-run leaves it
        store.set_meta("status", "running")
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_hold_and_die, args=(run_dir, ready))
    child.start()
    child.join()
    assert ready.is_set() and holder(run_dir) is None
    assert run_summary(run_dir)["status"] == "interrupted (process gone)"


def test_a_directory_is_valid_from_its_first_byte(tmp_path):
    """Whatever an interrupt leaves of a fresh run (an empty directory with its lock file,
    config.yaml alone, config.yaml and an empty store), both the original command and a
    resume continue from it."""
    for leftover in ([LOCK_NAME], [LOCK_NAME, "config.yaml"],
                     [LOCK_NAME, "config.yaml", STORE_NAME]):
        for resume in (False, True):
            run_dir = tmp_path / f"{len(leftover)}-{resume}"
            run_dir.mkdir()
            for name in leftover:
                if name == STORE_NAME:
                    TrialStore(run_dir / name).close()
                elif name == "config.yaml":
                    (run_dir / name).write_text("space: nb201\nstrategy: random\n")
                else:
                    (run_dir / name).touch()
            assert not started(run_dir)
            if resume and "config.yaml" not in leftover:
                with pytest.raises(RunDirError, match="holds no run; start one with"):
                    check_run_dir(run_dir, resume=True)
                continue
            directory, running = run(run_dir, resume=resume)
            with directory, running as store:
                assert not directory.resume and not store.trials()
            assert stored_status(run_dir) == "finished"
            assert "strategy:" in (run_dir / "config.yaml").read_text()
