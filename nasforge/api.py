"""The Python API: run a search in a few lines, with components given by name or as objects.

>>> import nasforge
>>> result = nasforge.search(space="nb201", evaluator=my_metric_fn,
...                          strategy={"name": "evolution", "population": 20}, trials=50)
>>> result.best.arch
>>> result = nasforge.search("nb201", None, {"name": "darts", "epochs": 10},
...                          selection="perturbation", task="cifar10", run_dir="runs/d")
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from nasforge.config import Budget, Component, RunConfig, check_options, config_from_dict
from nasforge.data.arrays import TaskArgument, describe, task_argument
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.progress import progress_logging
from nasforge.run.components import (
    build,
    build_selection,
    check_config,
    factory_for,
    make_executor,
    registries,
    resolve_runtime,
)
from nasforge.run.directory import PYTHON, SearchResult
from nasforge.run.executors import Executor, ProcessExecutor
from nasforge.run.plan import Plan, execute, execute_distributed
from nasforge.runtime import Runtime
from nasforge.selection.base import Selection
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.task import Task

Spec = str | Mapping[str, Any]
ExecutorArgument = Spec | Executor | None


def search(space: Spec | SearchSpace, evaluator: Spec | Evaluator | Callable[..., Any] | None,
           strategy: Spec | AskTellStrategy | OneShotStrategy = "random", *,
           task: TaskArgument = None, selection: Spec | Selection | None = None,
           trials: int | None = None, seconds: float | None = None, seed: int = 0,
           device: str = "auto", run_dir: str | Path | None = None, resume: bool = False,
           progress: bool | None = None, workers: int = 1,
           supernet_from: str | Path | None = None, precision: str = "32-true",
           compile: bool | str = "auto", executor: ExecutorArgument = None,
           distributed: int = 1) -> SearchResult:  # noqa: A002
    """Search ``space`` with ``strategy``, scoring with ``evaluator``.

    An ask/tell strategy (random, evolution, ...) runs until ``trials`` evaluations or
    ``seconds`` of evaluation cost are spent. A one-shot strategy (darts, spos, pgnas) trains
    its supernet on ``task`` for its epochs, lets ``selection`` (argmax, perturbation,
    evolution, posterior) choose, and scores the choice with ``evaluator`` (None: its accuracy
    on the selected path of the supernet); ``resume=True`` continues it from its last
    checkpoint; ``supernet_from=RUN_DIR`` starts it from the supernet that run trained (same
    space, task, strategy and seed), e.g. to compare selections on one supernet. Both return a
    SearchResult and write the same run directory.

    ``task`` is a name or spec (``"cifar10"``), a Task, or your own data: ``(X, y)``,
    ``(X, y, X_valid, y_valid)`` or ``(X, y, X_valid, y_valid, X_test, y_test)`` as numpy
    arrays or tensors, a torch Dataset of (sample, label) pairs, a ``.npz`` file or a folder of
    class folders (``nasforge.data.arrays`` says how shape, classes, normalisation and splits
    are derived; what was derived is printed).

    ``progress``: None (default) draws bars on a terminal and logs a line every few seconds
    otherwise (to stderr, when logging is not configured); False is silent; True always
    draws bars.

    Components are names (``"nb201"``), specs with options (``{"name": "evolution",
    "population": 20}``) or objects; ``evaluator`` may also be a plain function
    ``arch -> float | dict`` (wrapped in a FunctionEvaluator). ``workers`` > 1 evaluates that
    many candidates at once in worker processes (the evaluator must then be picklable: a
    module-level function, not a lambda); ``executor`` names where candidates run instead
    (``"process"``, ``{"name": "ray", "address": ...}`` or an Executor). ``distributed=N``
    trains a one-shot supernet data-parallel in N processes (PyTorch DDP: gloo on CPUs, NCCL
    on GPUs); every component must then be given by name and ``run_dir`` set, since each
    process builds its own from the run's config.

    This is the CLI's search: both build a ``nasforge.run.plan.Plan``, check it in one place and
    ``execute`` it.

    Shared cores: torch's OpenMP spin-waits by default, which on cores another process is
    busy on made a training step up to 37x slower. Set ``OMP_WAIT_POLICY=PASSIVE`` in the
    environment before ``import torch`` (the ``nasforge`` CLI and its worker processes do;
    this function's worker processes get it too). A RuntimeWarning says so once when torch
    runs active waiting with more threads than free cores (``nasforge.threads``)."""
    _check_arguments(dict(space=space, evaluator=evaluator, strategy=strategy, task=task,
                          selection=selection, trials=trials, seconds=seconds, seed=seed,
                          device=device, run_dir=run_dir, resume=resume, progress=progress,
                          workers=workers, supernet_from=supernet_from,
                          distributed=distributed, executor=executor))
    registries()  # a task name is told from a path by the registered names
    with progress_logging(progress):
        return _search(space, evaluator, strategy, task_argument(task, seed), selection,
                       trials, seconds, seed, device, run_dir, resume, progress, workers,
                       supernet_from, precision, compile, executor, distributed)


def _search(space: Spec | SearchSpace, evaluator: Spec | Evaluator | Callable[..., Any] | None,
            strategy: Spec | AskTellStrategy | OneShotStrategy, task: Spec | Task | None,
            selection: Spec | Selection | None, trials: int | None, seconds: float | None,
            seed: int, device: str, run_dir: str | Path | None, resume: bool,
            progress: bool | None, workers: int, supernet_from: str | Path | None,
            precision: str, compile: bool | str, executor: ExecutorArgument,
            distributed: int) -> SearchResult:  # noqa: A002
    runtime = resolve_runtime(device, precision, compile)
    space_obj = space if isinstance(space, SearchSpace) else build("space", _component(space))
    task_obj = task if isinstance(task, Task) or task is None else build(
        "task", _component(task, "task"), seed=seed)
    line = None if task_obj is None or progress is False else describe(task_obj)
    if line:
        print(line, file=sys.stderr)  # what was derived from the user's data
    evaluator_obj = None if evaluator is None else _evaluator(
        evaluator, space_obj, task_obj, seed, runtime)
    strategy_obj = strategy if isinstance(strategy, (AskTellStrategy, OneShotStrategy)) else build(
        "strategy", _component(strategy, "strategy"), space=space_obj, seed=seed, task=task_obj)
    selection_obj = selection if isinstance(selection, Selection) or selection is None \
        else build_selection(_component(selection, "selection"))
    budget = Budget(trials=trials, seconds=seconds)
    plan = Plan(space_obj, strategy_obj, evaluator_obj, task_obj, selection_obj, runtime,
                budget=budget, seed=seed, executor=_executor(executor, workers),
                distributed=distributed,
                supernet_from=None if supernet_from is None else Path(supernet_from),
                config=_config_if_named(space, task, evaluator, strategy, selection, budget,
                                        seed, device, supernet_from, precision, compile,
                                        executor, distributed),
                run_dir=None if run_dir is None else Path(run_dir), resume=resume,
                advice=PYTHON)
    if plan.distributed > 1:
        return execute_distributed(plan.check(), progress=progress)
    result = execute(plan.check(), progress=progress)
    assert result is not None  # one process: it is rank 0
    return result


def _executor(spec: ExecutorArgument, workers: int) -> Executor | None:
    """``executor=`` (a name, a spec or an Executor) or ``workers=`` > 1 (that many local
    worker processes); None: candidates are evaluated in this process."""
    if spec is not None and workers != 1:
        raise ConfigError("give workers= or executor=, not both (executor={'name': "
                          "'process', 'workers': N} is workers=N)")
    if isinstance(spec, Executor):
        return spec
    if spec is not None:
        return make_executor({"name": spec} if isinstance(spec, str) else dict(spec))
    return ProcessExecutor(workers) if workers > 1 else None


_SPEC = (str, Mapping)
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "space": ((*_SPEC, SearchSpace), "a name, a spec {'name': ...} or a SearchSpace"),
    "strategy": ((*_SPEC, AskTellStrategy, OneShotStrategy),
                 "a name, a spec {'name': ...} or a strategy object"),
    "task": ((*_SPEC, Path, tuple, list, Dataset, Task, type(None)),
             "a name, a spec {'name': ...}, a Task, (X, y) arrays, a Dataset, a path or None"),
    "selection": ((*_SPEC, Selection, type(None)),
                  "a name, a spec {'name': ...}, a Selection or None"),
    "device": ((str,), "a device name such as 'cpu' or 'cuda'"),
    "run_dir": ((str, Path, type(None)), "a path or None"),
    "supernet_from": ((str, Path, type(None)), "a run directory's path or None"),
    "resume": ((bool,), "True or False"),
    "progress": ((bool, type(None)), "True, False or None"),
    "executor": ((*_SPEC, Executor, type(None)),
                 "a name, a spec {'name': ...}, an Executor or None"),
}


def _check_arguments(args: dict[str, Any]) -> None:
    """Arguments of the wrong kind fail here, with the argument's name, not deep inside."""
    for name, (kinds, wanted) in _KINDS.items():
        if not isinstance(args[name], kinds):
            raise ConfigError(f"search({name}=...) must be {wanted}, got {args[name]!r}")
    evaluator = args["evaluator"]
    if not (evaluator is None or isinstance(evaluator, (*_SPEC, Evaluator)) or
            callable(evaluator)):
        raise ConfigError("search(evaluator=...) must be a name, a spec, an Evaluator, a "
                          f"function arch -> float, or None, got {evaluator!r}")
    for name, low in (("seed", 0), ("workers", 1), ("trials", 1), ("distributed", 1)):
        value = args[name]
        if name == "trials" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"search({name}=...) must be an integer >= {low}, got {value!r}")
    seconds = args["seconds"]
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not seconds > 0):
        raise ConfigError(f"search(seconds=...) must be a positive number, got {seconds!r}")


def _name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return str(spec["name"]) if isinstance(spec, Mapping) else type(spec).__name__


def _component(spec: Spec, section: str = "space") -> Component:
    raw = {"name": spec} if isinstance(spec, str) else dict(spec)
    if "name" not in raw:
        raise ConfigError(f"{section} spec needs a 'name': {spec!r}")
    comp = Component(raw.pop("name"), raw)
    check_options(factory_for(section, comp.name), comp.options, section)
    return comp


def _evaluator(spec: Spec | Evaluator | Callable[..., Any], space: SearchSpace,
               task: Task | None, seed: int, runtime: Runtime) -> Evaluator:
    if isinstance(spec, Evaluator):
        return spec
    if isinstance(spec, (str, Mapping)):
        return build("evaluator", _component(spec, "evaluator"), space=space, task=task,
                     seed=seed, device=runtime.device, runtime=runtime)  # type: ignore[no-any-return]
    if callable(spec):
        return FunctionEvaluator(spec)
    raise ConfigError(f"evaluator must be a name, a spec, an Evaluator or a function: {spec!r}")


def _config_if_named(space: Any, task: Any, evaluator: Any, strategy: Any, selection: Any,
                     budget: Budget, seed: int, device: str,
                     supernet_from: str | Path | None = None, precision: str = "32-true",
                     compile: bool | str = "auto", executor: ExecutorArgument = None,
                     distributed: int = 1) -> RunConfig | None:  # noqa: A002
    """The run's config, when every component was given by name (so it can be written to
    config.yaml and rebuilt); None when objects or functions were passed."""
    specs = {"space": space, "strategy": strategy}
    for section, spec in (("task", task), ("evaluator", evaluator), ("selection", selection),
                          ("executor", executor)):
        if spec is not None:
            specs[section] = spec
    if not all(isinstance(v, (str, Mapping)) for v in specs.values()):
        return None
    raw: dict[str, Any] = {k: v if isinstance(v, str) else dict(v) for k, v in specs.items()}
    raw.update(seed=seed, device=device, precision=precision, compile=compile,
               budget={"trials": budget.trials, "seconds": budget.seconds})
    if supernet_from is not None:
        raw["supernet_from"] = str(supernet_from)
    if distributed != 1:
        raw["distributed"] = {"nproc": distributed}
    return check_config(config_from_dict(raw))
