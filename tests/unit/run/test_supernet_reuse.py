"""supernet_from: a one-shot run starting from another run's trained supernet selects exactly
as a run that trains the same supernet itself, and refuses a supernet trained otherwise."""

import contextlib
import json
import shutil

import pytest
import torch

import nasforge
import nasforge.run.components
from nasforge.config import Component
from nasforge.errors import ConfigError, RunDirError
from nasforge.run.store import TrialStore
from nasforge.run.supernet_reuse import TRAINED

SPACE = {"name": "nb201", "C": 4, "N": 1}
TASK = {"name": "mnist1d", "num_samples": 600, "train_size": 200, "valid_fraction": 0.5,
        "batch_size": 50}
STRATEGY = {"name": "darts", "epochs": 2}
PT = {"name": "perturbation", "finetune_epochs": 1, "valid_batches": 1}


def darts(run_dir, selection, seed=0, **kwargs):
    return nasforge.search(SPACE, "table", STRATEGY, task=TASK, selection=selection,
                           seed=seed, device="cpu", run_dir=run_dir, **kwargs)


@pytest.fixture(scope="module")
def argmax_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("reuse") / "argmax"
    darts(path, "argmax")
    return path


def weights(file):
    return torch.load(file, weights_only=False)["supernet"]


def test_a_selection_on_an_adopted_supernet_equals_one_on_its_own(argmax_run, tmp_path):
    adopted = darts(tmp_path / "pt_adopted", PT, supernet_from=argmax_run)
    own = darts(tmp_path / "pt_own", PT)
    assert adopted.best.arch == own.best.arch
    assert adopted.best.result.metrics == own.best.result.metrics
    scores = [(tmp_path / run / "selection_scores.csv").read_text()
              for run in ("pt_adopted", "pt_own")]
    assert scores[0] == scores[1]
    # The adopted run trained nothing: its history and training time are the source's.
    history = [json.loads((d / "history.json").read_text())
               for d in (argmax_run, tmp_path / "pt_adopted")]
    assert history[0] == history[1]
    metas = []
    for run in (argmax_run, tmp_path / "pt_adopted"):
        with TrialStore(run / "trials.sqlite") as store:
            metas.append((store.get_meta("supernet_seconds"), store.get_meta("supernet_from")))
    assert metas[0][0] > 0 and metas[1] == (metas[0][0], str(argmax_run))


def test_the_kept_supernet_is_the_one_before_selection_changed_it(argmax_run, tmp_path):
    darts(tmp_path / "pt", PT, supernet_from=argmax_run)
    kept, source = weights(tmp_path / "pt" / TRAINED), weights(argmax_run / TRAINED)
    assert all(torch.equal(kept[k], source[k]) for k in source)
    after = weights(tmp_path / "pt" / "checkpoint.pt")  # PT fine-tuned the supernet
    assert any(not torch.equal(after[k], source[k]) for k in source)


def test_a_supernet_trained_otherwise_is_refused(argmax_run, tmp_path):
    with pytest.raises(ConfigError, match="trained with seed 0, this run has 1"):
        darts(tmp_path / "other_seed", PT, seed=1, supernet_from=argmax_run)
    with pytest.raises(RunDirError, match="no trained_supernet.pt there"):
        darts(tmp_path / "nowhere", PT, supernet_from=tmp_path)
    with pytest.raises(ConfigError, match="one-shot strategies"):
        nasforge.search(SPACE, "table", "random", trials=2, supernet_from=argmax_run)


@contextlib.contextmanager
def saved_as_on_a_gpu():
    """``torch.save`` tags every storage ``cuda:0``, as a checkpoint written on a GPU is; such
    a file loads on a machine without one only where the loader maps it (``map_location``)."""
    original = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.serialization.location_tag = original


def test_a_supernet_and_a_run_saved_on_a_gpu_load_on_this_cpu(argmax_run, tmp_path):
    gpu_run = tmp_path / "gpu"
    shutil.copytree(argmax_run, gpu_run)
    for name in (TRAINED, "checkpoint.pt"):
        data = torch.load(gpu_run / name, weights_only=False)
        with saved_as_on_a_gpu():
            torch.save(data, gpu_run / name)
    with pytest.raises(RuntimeError, match="CUDA"):  # as before checkpoints were mapped
        torch.load(gpu_run / TRAINED, weights_only=False)
    adopted = darts(tmp_path / "pt", PT, supernet_from=gpu_run)
    assert adopted.best.arch == darts(tmp_path / "pt_own", PT, supernet_from=argmax_run).best.arch
    evaluator = nasforge.run.components.build(
        "evaluator", Component("supernet", {"checkpoint": str(gpu_run)}),
        space=nasforge.run.components.build("space", Component("nb201", {"C": 4, "N": 1})),
        task=nasforge.run.components.build("task", Component("mnist1d", {
            k: v for k, v in TASK.items() if k != "name"})), device=torch.device("cpu"))
    assert next(evaluator.supernet.parameters()).device.type == "cpu"
