"""RunDir: the one run-directory life cycle both flows (ask/tell, one-shot) go through."""

import pytest

from nasforge.config import config_from_dict
from nasforge.errors import RunDirError
from nasforge.run_dir import RunDir, stored_status
from nasforge.spaces.nb201 import NB201Space
from nasforge.store import STORE_NAME, TrialStore

CONFIG = config_from_dict({"space": "nb201", "evaluator": "table", "strategy": "random",
                           "budget": {"trials": 2}})


def test_create_status_config_once_and_refusal(tmp_path):
    run_dir = tmp_path / "run"
    with RunDir(run_dir).running(space=NB201Space(), evaluator=None, config=CONFIG) as store:
        assert store.get_meta("status") == "running"
        assert store.get_meta("space")["name"] == "nb201"
    assert stored_status(run_dir) == "finished"
    written = (run_dir / "config.yaml").read_text()
    with (pytest.raises(RunDirError, match="already holds files"),
          RunDir(run_dir).running(space=NB201Space(), evaluator=None)):
        pass
    (run_dir / "config.yaml").write_text(written + "# kept\n")
    with RunDir(run_dir, resume=True).running(space=NB201Space(), evaluator=None,
                                              config=CONFIG) as store:
        assert store.get_meta("status") == "running"
    assert (run_dir / "config.yaml").read_text().endswith("# kept\n")  # written once


@pytest.mark.parametrize("error, status", [(KeyboardInterrupt, "interrupted"),
                                           (RuntimeError, "failed")])
def test_an_early_end_is_recorded(tmp_path, error, status):
    with pytest.raises(error), RunDir(tmp_path).running(space=NB201Space(), evaluator=None):
        raise error()
    assert stored_status(tmp_path) == status


def test_in_memory_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with RunDir(None).running(space=NB201Space(), evaluator=None, config=CONFIG) as store:
        assert isinstance(store, TrialStore)
    assert not any(tmp_path.iterdir()) and not (tmp_path / STORE_NAME).exists()
