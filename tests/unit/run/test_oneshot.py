"""The one-shot runner: outputs, and resume after a kill mid-training and mid-selection."""

import json

import numpy as np
import pytest

import nasforge
from nasforge.data.base import tensor_task
from nasforge.errors import RunDirError
from nasforge.run.directory import stored_status
from nasforge.run.store import STORE_NAME, TrialStore
from nasforge.selection.perturbation import PerturbationSelection
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.darts import DartsSearch


def tiny_task():
    gen = np.random.default_rng(1)
    x = gen.normal(size=(150, 1, 16)).astype(np.float32)
    y = (x[:, 0, :4].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:120], y[:120], x[120:], y[120:], num_classes=2, seed=0,
                       batch_size=30, valid_fraction=0.5)


class DiesInEpoch(DartsSearch):
    def __init__(self, *args, die_at=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.die_at = die_at

    def train_epoch(self, epoch):
        if epoch == self.die_at:
            raise KeyboardInterrupt
        return super().train_epoch(epoch)


class DiesInRound(PerturbationSelection):
    def __init__(self, die_at=None):
        super().__init__(finetune_epochs=1, valid_batches=1)
        self.die_at, self.rounds = die_at, 0

    def _round(self, ctx, state, bar):
        if state["rounds"] == self.die_at:
            raise KeyboardInterrupt
        return super()._round(ctx, state, bar)


def run(run_dir, resume=False, die_epoch=None, die_round=None):
    space = NB201Space(C=4, N=1)
    strategy = DiesInEpoch(space, seed=0, epochs=2, die_at=die_epoch)
    return nasforge.search(space, None, strategy, selection=DiesInRound(die_round),
                           task=tiny_task(), device="cpu", run_dir=run_dir, resume=resume,
                           seed=0)


def test_outputs_and_resume_mid_training_and_mid_selection(tmp_path):
    full = run(tmp_path / "full")
    for name in ("best.json", "report.html", "selection_scores.csv", "history.json",
                 "plots/alpha.png", "checkpoint.pt"):
        assert (tmp_path / "full" / name).is_file(), name
    assert len(json.loads((tmp_path / "full" / "history.json").read_text())) == 2
    assert stored_status(tmp_path / "full") == "finished"
    # The selection is the run's one trial, stored as an ask/tell trial is.
    with TrialStore(tmp_path / "full" / STORE_NAME) as store:
        (trial,) = store.trials()
        assert store.get_meta("space")["name"] == "nb201"
    assert trial.status == "ok" and trial.key == NB201Space().key(full.best.arch)
    assert trial.result.metrics == pytest.approx(full.best.result.metrics)
    with pytest.raises(RunDirError, match="already holds a run"):
        run(tmp_path / "full")  # another run in the same directory
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", die_epoch=1)
    assert stored_status(tmp_path / "cut") == "interrupted"  # not "running" forever
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", resume=True, die_round=3)
    resumed = run(tmp_path / "cut", resume=True)
    assert resumed.best.arch == full.best.arch
    assert resumed.best.result.metrics == pytest.approx(full.best.result.metrics)
