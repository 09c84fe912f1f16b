"""The Python API: a user's own space and a plain function work with every strategy."""

import numpy as np
import pytest
import torch
from torch import nn

import nasforge
from nasforge import Categorical, FunctionSpace
from nasforge.errors import ConfigError
from nasforge.registry import STRATEGIES
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.darts import DartsSearch

OPTIONS = {"evolution": {"population": 6, "sample_size": 3},
           "spos_evolution": {"population": 8, "generations": 5, "top_k": 3, "mutation": 2,
                              "crossover": 2}}
# Strategies that never propose an architecture twice stop when the 24 of the space are done.
NO_REPEATS = {"spos_evolution": 24}


def mlp_space() -> FunctionSpace:
    def build(arch, shape):
        width = int(arch["width"])
        act = {"relu": nn.ReLU(), "tanh": nn.Tanh()}[str(arch["act"])]
        return nn.Sequential(nn.Flatten(), nn.Linear(shape.input_shape[-1], width), act,
                             nn.Linear(width, shape.num_classes))

    return FunctionSpace([Categorical("width", [8, 16, 32, 64]),
                          Categorical("act", ["relu", "tanh"]),
                          Categorical("depth", [1, 2, 3])], build=build, name="mlp")


def objective(arch) -> dict:
    return {"valid_acc": arch["width"] / 64 + (arch["act"] == "relu") - abs(arch["depth"] - 2),
            "cost": 1.0}


@pytest.mark.parametrize("strategy", [n for n in STRATEGIES.names()
                                      if issubclass(STRATEGIES.get(n), AskTellStrategy)])
def test_user_space_and_function_with_every_strategy(strategy):
    spec = {"name": strategy, **OPTIONS.get(strategy, {})}
    result = nasforge.search(mlp_space(), objective, spec, trials=40, seed=0)
    assert result.n_trials == NO_REPEATS.get(strategy, 40)
    assert result.best.arch == nasforge.Architecture(width=64, act="relu", depth=2)


def test_user_space_builds_a_network():
    space = mlp_space()
    arch = nasforge.Architecture(width=8, act="tanh", depth=1)
    model = space.build(arch, nasforge.Shape((1, 5), 3))
    assert model(torch.randn(2, 1, 5)).shape == (2, 3)


def test_named_components_and_run_dir(tmp_path):
    result = nasforge.search("nb201", lambda a: float(a["1<-0"] == "nor_conv_3x3"),
                             {"name": "evolution", "population": 5, "sample_size": 2},
                             trials=10, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "best.json").is_file()
    assert result.best.result.objective == 1.0


def test_api_errors():
    with pytest.raises(ConfigError, match="trials"):
        nasforge.search("nb201", lambda a: 0.0)
    with pytest.raises(ConfigError, match="strategy.popsize"):
        nasforge.search("nb201", lambda a: 0.0, {"name": "evolution", "popsize": 3}, trials=2)


TINY_TASK = {"name": "synthetic", "num_samples": 80, "num_classes": 2, "channels": 1,
             "size": 16, "dims": 1, "batch_size": 16}
TINY_NB201 = {"name": "nb201", "C": 4, "N": 1}


def test_one_shot_search_through_the_api_and_resume(tmp_path, monkeypatch):
    """A one-shot strategy through nasforge.search: supernet trained, selection made and
    scored, the same SearchResult and run directory as an ask/tell search; a resume of an
    interrupted run continues it from its checkpoint."""
    kwargs = {"selection": {"name": "argmax"}, "task": TINY_TASK, "seed": 0}
    strategy = {"name": "darts", "epochs": 2, "max_batches": 1}
    result = nasforge.search(TINY_NB201, None, strategy, run_dir=tmp_path / "run", **kwargs)
    assert isinstance(result, nasforge.SearchResult) and result.n_trials == 1
    assert result.best is result.trials[0] and result.best.status == "ok"
    for name in ("best.json", "config.yaml", "report.html", "checkpoint.pt"):
        assert (tmp_path / "run" / name).is_file(), name
    assert nasforge.load_config(tmp_path / "run" / "config.yaml").selection.name == "argmax"
    with pytest.raises(ConfigError, match="one-shot search runs for its strategy's epochs"):
        nasforge.search(TINY_NB201, None, strategy, trials=3, **kwargs)
    with pytest.raises(ConfigError, match="needs a selection"):
        nasforge.search(TINY_NB201, None, strategy, task=TINY_TASK)

    # Interrupted in the second epoch (the first one's checkpoint kept), then resumed.
    calls = []
    original = DartsSearch.train_epoch

    def stop_in_second_epoch(self, epoch):
        calls.append(epoch)
        if epoch == 1 and len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(DartsSearch, "train_epoch", stop_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        nasforge.search(TINY_NB201, None, strategy, run_dir=tmp_path / "cut", **kwargs)
    resumed = nasforge.search(TINY_NB201, None, strategy, run_dir=tmp_path / "cut",
                              resume=True, **kwargs)
    assert calls == [0, 1, 1]  # the first epoch was not trained again
    assert resumed.best.arch == result.best.arch


def test_your_own_arrays_are_a_task(tmp_path, capsys) -> None:
    """``task=(X, y)``: the shape, classes and splits come from the arrays, and a search on
    them trains real candidates (a spread of accuracies, not a constant)."""
    rng = np.random.default_rng(0)
    y = np.arange(200) % 4
    x = rng.normal(size=(200, 10)) + 3 * np.eye(4, 10)[y]
    result = nasforge.search(mlp_space(), {"name": "train", "epochs": 2}, "random",
                             task=(x, y), trials=3, run_dir=tmp_path / "run")
    assert "input (1, 10), 4 classes" in capsys.readouterr().err
    assert result.best.result.metrics["valid_acc"] > 40  # chance is 25
    # the report's retraining advice is a call that works: the arrays and the space (built
    # by a local function, so not stored by reference) must be given again
    report = (tmp_path / "run" / "report.html").read_text()
    assert "nasforge.train(" in report and "task=..." in report and "space=..." in report
    assert "nasforge train " not in report


def test_progress_logs_by_default_where_logging_is_not_set_up(monkeypatch, capsys) -> None:
    import logging

    from nasforge.progress import Progress, progress_logging

    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    with progress_logging(None), Progress("search", 2, progress=None) as bar:
        bar.advance(2)
    assert "search: 2/2" in capsys.readouterr().err
    with progress_logging(False), Progress("search", 2, progress=False) as bar:
        bar.advance(2)
    assert capsys.readouterr().err == ""


def test_registries_are_filled_when_first_seen() -> None:
    import subprocess
    import sys

    code = "import nasforge; print(len(nasforge.TASKS.names()), len(nasforge.SPACES.names()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert all(int(n) >= 5 for n in out), out
