"""Wrong usage, as a new user tries it: every case is one line on stderr, exit status 2, no
traceback (the command line, run in-process through click's runner: the same code, without
starting a Python per case), and in Python a nasforge error naming the argument, in Python's
words (``resume=True``, not ``--resume``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nasforge
from nasforge.cli import main
from nasforge.errors import ConfigError, NasforgeError, RunDirError, SearchFailed

TINY = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 600, train_size: 200, batch_size: 50}
evaluator: {name: train, epochs: 1}
strategy: {name: evolution, population: 3, sample_size: 2}
budget: {trials: 2}
"""
ONESHOT = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 600, train_size: 200, valid_fraction: 0.5, batch_size: 50}
strategy: {name: darts, epochs: 1, max_batches: 1}
selection: {name: argmax}
"""
TABLE = "space: {name: nb201}\nevaluator: {name: table}\nstrategy: {name: random}\n" \
        "budget: {trials: 2}\n"

BAD_SEARCHES = [
    (["missing.yaml"], "config file not found"),
    (["broken.yaml"], "not valid YAML"),
    (["list.yaml"], "top level must be a mapping"),
    (["nospace.yaml"], "config key 'space' is required"),
    (["tiny.yaml", "--set", "strategy.populaton=3"], "strategy.populaton"),
    (["tiny.yaml", "--set", "budget.trials=many"], "budget.trials"),
    (["tiny.yaml", "--set", "budget.trials=2.5"], "budget.trials"),
    (["tiny.yaml", "--set", "budget.trials=0"], "must be positive"),
    (["tiny.yaml", "--set", "budget.trials=1e23"], "a search that would never end"),
    (["tiny.yaml", "--set", "budget.seconds=-1"], "must be positive"),
    (["tiny.yaml", "--set", "budget.seconds=1e12"], "a search that would never end"),
    (["tiny.yaml", "--set", "budget.extra=1"], "budget.extra"),
    (["tiny.yaml", "--set", "seed=-1"], "seed must be >= 0"),
    (["tiny.yaml", "--set", "seed=abc"], "config key 'seed'"),
    (["tiny.yaml", "--set", "nothing"], "--set expects key=value"),
    (["tiny.yaml", "--set", "seed.x=1"], "is not a section"),
    (["tiny.yaml", "--set", "space.name=nb2010"], "unknown search space"),
    (["tiny.yaml", "--set", "strategy.name=evolutoin"], "unknown strategy"),
    (["tiny.yaml", "--set", "evaluator.name=trian"], "unknown evaluator"),
    (["tiny.yaml", "--set", "task.name=mnist2d"], "unknown task"),
    (["tiny.yaml", "--set", "task={name: cifar10, root: nowhere}"], "CIFAR-10"),
    (["tiny.yaml", "--set", "task.batch_size=0"], "task.batch_size must be a positive"),
    (["tiny.yaml", "--set", "task.batch_size=-5"], "task.batch_size must be a positive"),
    (["tiny.yaml", "--set", "task.train_size=99999999"], "more than the"),
    (["tiny.yaml", "--set", "task.train_size=0"], "task.train_size must be positive"),
    (["tiny.yaml", "--set", "task.valid_fraction=1.5"], "task.valid_fraction"),
    (["tiny.yaml", "--set", "evaluator.lr=-1"], "evaluator.lr must be > 0"),
    (["tiny.yaml", "--set", "evaluator.lr=0"], "evaluator.lr must be > 0"),
    (["tiny.yaml", "--set", "evaluator.momentum=-1"], "momentum"),
    (["tiny.yaml", "--set", "evaluator.epochs=0"], "evaluator.epochs must be positive"),
    (["tiny.yaml", "--set", "evaluator.optimizer=rmsprop"], "evaluator.optimizer"),
    (["tiny.yaml", "--set", "strategy.population=1000000000000"], "is more than 1,000,000"),
    (["tiny.yaml", "--set", "strategy.sample_size=0"], "sample_size"),
    (["tiny.yaml", "--set", "selection={name: argmax}"], "drop the selection section"),
    (["tiny.yaml", "--set", "supernet_from=runs/a"], "supernet_from is for one-shot"),
    (["tiny.yaml", "--set", "distributed.nproc=2"], "distributed.nproc is for one-shot"),
    (["tiny.yaml", "--set", "executor={name: process, workers: 0}"], "executor.workers"),
    (["tiny.yaml", "--set", "executor={name: nowhere}"], "unknown executor"),
    (["tiny.yaml", "--set", "device=cuda:99"], "device 'cuda:99' is not available"),
    (["tiny.yaml", "--set", "device=gpu0"], "is not a device name"),
    (["tiny.yaml", "--set", "precision=8"], "precision must be one of"),
    (["tiny.yaml", "--set", "compile=maybe"], "config key 'compile'"),
    (["tiny.yaml", "--out", "runs/a"], "already holds a run; pass --resume"),
    (["tiny.yaml", "--out", "/proc/nasforge-run"], "cannot create the run directory"),
    (["tiny.yaml", "--out", "/dev/null/run"], "cannot create the run directory"),
    (["tiny.yaml", "--out", "afile"], "afile is not a directory"),
    (["--resume", "runs/nothing"], "cannot resume"),
    (["--resume", "runs/lock_only"], "holds no run; start one with nasforge search CONFIG"),
    (["tiny.yaml", "--resume", "runs/a"], "drop CONFIG"),
    (["--resume", "runs/a", "--set", "seed=1"], "drop --set/--out"),
    (["--resume", "runs/a", "--out", "elsewhere"], "drop --set/--out"),
    ([], "give a CONFIG file"),
    (["oneshot.yaml", "--set", "strategy.epochs=0"], "at least one epoch"),
    (["oneshot.yaml", "--set", "selection=null"], "needs a selection section"),
    (["oneshot.yaml", "--set", "task=null"], "add a task section"),
    (["oneshot.yaml", "--set", "strategy.order=3"], "strategy.order"),
    (["oneshot.yaml", "--set", "selection.name=perturbaton"], "unknown selection"),
    (["oneshot.yaml", "--set", "selection={name: perturbation, finetune_epochs: -1}"],
     "finetune_epochs"),
    (["oneshot.yaml", "--set", "supernet_from=runs/a"], "no trained_supernet.pt there"),
    (["oneshot.yaml", "--set", "distributed.nproc=0"], "distributed.nproc must be >= 1"),
    (["oneshot.yaml", "--set", "distributed.nproc=100000"], "more than this machine's"),
    (["oneshot.yaml", "--set", "space={name: rnn_cell}"], "has no supernet"),
    (["oneshot.yaml", "--set", "strategy={name: spos, epochs: 1, lr: -1}"], "lr > 0"),
    (["oneshot.yaml", "--set", "strategy={name: pgnas, epochs: 1, tau: 0}"], "tau must be"),
    (["table.yaml", "--set", "evaluator.path=missing.csv.gz"], "not found"),
    (["table.yaml", "--set", "evaluator.dataset=mnist"], "evaluator.dataset"),
    (["table.yaml", "--set", "evaluator=null"], "needs an evaluator section"),
    (["tiny.yaml", "--set", "task={name: npz, path: missing.npz}"], "no such file"),
    (["tiny.yaml", "--set", "task={name: npz, path: wrongkeys.npz}"], "needs arrays x and y"),
    (["tiny.yaml", "--set", "task={name: npz, path: nan.npz}"], "holds NaN"),
    (["tiny.yaml", "--set", "task={name: imagefolder, root: nowhere}"], "not found"),
]
BAD_OTHERS = [
    (["train", "missing.json"], "architecture file not found"),
    (["train", "notjson.json"], "not valid JSON"),
    (["train", "nokeys.json"], "needs the keys 'space' and 'architecture'"),
    (["train", "badop.json"], "unknown op"),
    (["train", "runs/a/best.json", "--epochs", "0"], "--epochs must be positive"),
    (["train", "runs/a/best.json", "--set", "device=cuda:99"], "device 'cuda:99'"),
    (["runs", "show", "runs/nothing"], "is not a run directory"),
    (["runs", "show", "runs/lock_only"], "is not a run directory"),
    (["runs", "list", "nowhere"], "no runs directory"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad")
    files = {"tiny.yaml": TINY, "oneshot.yaml": ONESHOT, "table.yaml": TABLE,
             "broken.yaml": "space: {name: nb201\n", "list.yaml": "- 1\n- 2\n",
             "nospace.yaml": "strategy: random\n", "afile": "not a directory\n",
             "notjson.json": "{", "nokeys.json": "{}",
             "badop.json": json.dumps({"space": "nb201", "architecture":
                                       "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"})}
    for name, text in files.items():
        (path / name).write_text(text)
    np.savez(path / "wrongkeys.npz", features=np.zeros((10, 3)))
    np.savez(path / "nan.npz", x=np.full((10, 3), np.nan), y=np.arange(10) % 2)
    (path / "runs" / "lock_only").mkdir(parents=True)
    (path / "runs" / "lock_only" / ".lock").touch()
    result = invoke(path, ["search", "tiny.yaml", "--out", "runs/a"])
    assert result.exit_code == 0, result.stderr
    return path


def invoke(cwd: Path, args: list[str]):  # noqa: ANN201  (click's Result)
    import os

    before = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args)
    finally:
        os.chdir(before)


@pytest.mark.parametrize("args, message", [(["search", *a], m) for a, m in BAD_SEARCHES]
                         + BAD_OTHERS, ids=[m for _, m in BAD_SEARCHES + BAD_OTHERS])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path) -> None:
    result = invoke(workdir, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in lines[0], lines[0]


def test_there_are_sixty_cases_and_more() -> None:
    assert len(BAD_SEARCHES) + len(BAD_OTHERS) + len(BAD_PYTHON) >= 60


def test_numbers_are_read_as_people_write_them(workdir: Path) -> None:
    result = invoke(workdir, ["search", "table.yaml", "--set", "budget.seconds=1e5",
                              "--set", "budget.trials=2e0", "--out", "runs/numbers"])
    assert result.exit_code == 0, result.stderr
    config = (workdir / "runs" / "numbers" / "config.yaml").read_text()
    assert "seconds: 100000.0" in config and "trials: 2\n" in config


def fails_with_nan(arch):  # noqa: ANN001, ANN201
    return math.nan


SPACE = {"name": "nb201", "C": 4, "N": 1}
BAD_PYTHON = [
    (dict(space=123), "search(space=...) must be a name"),
    (dict(strategy=None), "search(strategy=...) must be"),
    (dict(task=3.5), "search(task=...) must be"),
    (dict(task=[1, 2, 3]), "takes (X, y), (X, y, X_valid, y_valid)"),
    (dict(task=(np.zeros((10, 3)), np.zeros(9))), "x has 10 samples but y has 9 labels"),
    (dict(task=(np.zeros((10, 3)), np.arange(10) % 2 + 0.5)), "labels must be integers"),
    (dict(task=(np.full((10, 3), np.nan), np.arange(10) % 2)), "holds NaN"),
    (dict(task="no/such/folder"), "no such task, file or folder"),
    (dict(selection=3.5), "search(selection=...) must be"),
    (dict(seed="a"), "search(seed=...) must be an integer >= 0"),
    (dict(seed=-1), "search(seed=...) must be an integer >= 0"),
    (dict(seed=True), "search(seed=...) must be an integer"),
    (dict(workers=0), "search(workers=...) must be an integer >= 1"),
    (dict(trials=0), "search(trials=...) must be an integer >= 1"),
    (dict(trials=1e23), "search(trials=...) must be an integer"),
    (dict(trials=10**12), "a search that would never end"),
    (dict(seconds=-1), "search(seconds=...) must be a positive number"),
    (dict(run_dir=123), "search(run_dir=...) must be a path"),
    (dict(resume="yes"), "search(resume=...) must be True or False"),
    (dict(progress="yes"), "search(progress=...) must be True, False or None"),
    (dict(executor=3), "search(executor=...) must be a name"),
    (dict(distributed=0), "search(distributed=...) must be an integer >= 1"),
    (dict(evaluator=5), "search(evaluator=...) must be"),
    (dict(device=3), "search(device=...) must be a device name"),
    (dict(device="cuda:99"), "device 'cuda:99' is not available"),
    (dict(precision="8-bit"), "precision must be one of"),
    (dict(space={"C": 4}), "space spec needs a 'name'"),
    (dict(strategy={"name": "evolution", "populaton": 3}), "strategy.populaton"),
]


@pytest.mark.parametrize("kwargs, message", BAD_PYTHON, ids=[m for _, m in BAD_PYTHON])
def test_bad_python_arguments_name_the_argument(kwargs, message) -> None:
    args = {"space": SPACE, "evaluator": lambda a: 1.0, "strategy": "random", "trials": 2,
            **kwargs}
    with pytest.raises(NasforgeError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.").replace("[", r"\[")):
        nasforge.search(**args)


@pytest.mark.parametrize("function, error", [
    (fails_with_nan, "returned nan, not a finite number"),
    (lambda a: "abc", "returned 'abc', not a number"),
    (lambda a: 1 / 0, "ZeroDivisionError"),
    (lambda a: {"loss": 1.0}, "returned no 'valid_acc'"),
])
def test_a_python_search_in_which_no_trial_finished_raises_its_first_error(function, error):
    with pytest.raises(SearchFailed, match=error):
        nasforge.search(SPACE, function, "random", trials=3)


def test_python_advice_speaks_python(tmp_path: Path) -> None:
    nasforge.search(SPACE, lambda a: 1.0, "random", trials=2, run_dir=tmp_path / "run")
    with pytest.raises(RunDirError, match="pass resume=True to continue it, or choose another "
                                          "run_dir="):
        nasforge.search(SPACE, lambda a: 1.0, "random", trials=2, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="at least one epoch"):
        nasforge.search(SPACE, None, {"name": "darts", "epochs": 0}, selection="argmax",
                        task={"name": "mnist1d", "num_samples": 600})
