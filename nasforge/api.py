"""The Python API: run a search in a few lines, with components given by name or as objects.

>>> import nasforge
>>> result = nasforge.search(space="nb201", evaluator=my_metric_fn,
...                          strategy={"name": "evolution", "population": 20}, trials=50)
>>> result.best.arch
>>> result = nasforge.search("nb201", None, {"name": "darts", "epochs": 10},
...                          selection="perturbation", task="cifar10", run_dir="runs/d")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nasforge.components import (
    build,
    build_selection,
    check_config,
    check_oneshot,
    factory_for,
    resolve_runtime,
)
from nasforge.config import Budget, Component, RunConfig, check_options, config_from_dict
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.executors import ProcessExecutor
from nasforge.oneshot import run_oneshot
from nasforge.run import run_search
from nasforge.run_dir import PYTHON, SearchResult
from nasforge.runtime import Runtime
from nasforge.selection.base import Selection
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet_reuse import trained_file
from nasforge.task import Task

Spec = str | Mapping[str, Any]


def search(space: Spec | SearchSpace, evaluator: Spec | Evaluator | Callable[..., Any] | None,
           strategy: Spec | AskTellStrategy | OneShotStrategy = "random", *,
           task: Spec | Task | None = None, selection: Spec | Selection | None = None,
           trials: int | None = None, seconds: float | None = None, seed: int = 0,
           device: str = "auto", run_dir: str | Path | None = None, resume: bool = False,
           progress: bool = False, workers: int = 1,
           supernet_from: str | Path | None = None, precision: str = "32-true",
           compile: bool | str = "auto") -> SearchResult:  # noqa: A002
    """Search ``space`` with ``strategy``, scoring with ``evaluator``.

    An ask/tell strategy (random, evolution, ...) runs until ``trials`` evaluations or
    ``seconds`` of evaluation cost are spent. A one-shot strategy (darts, spos, pgnas) trains
    its supernet on ``task`` for its epochs, lets ``selection`` (argmax, perturbation,
    evolution, posterior) choose, and scores the choice with ``evaluator`` (None: its accuracy
    on the selected path of the supernet); ``resume=True`` continues it from its last
    checkpoint; ``supernet_from=RUN_DIR`` starts it from the supernet that run trained (same
    space, task, strategy and seed), e.g. to compare selections on one supernet. Both return a
    SearchResult and write the same run directory.

    Components are names (``"nb201"``), specs with options (``{"name": "evolution",
    "population": 20}``) or objects; ``evaluator`` may also be a plain function
    ``arch -> float | dict`` (wrapped in a FunctionEvaluator). ``workers`` > 1 evaluates that
    many candidates at once in worker processes (the evaluator must then be picklable: a
    module-level function, not a lambda).

    Shared cores: torch's OpenMP spin-waits by default, which on cores another process is
    busy on made a training step up to 37x slower. Set ``OMP_WAIT_POLICY=PASSIVE`` in the
    environment before ``import torch`` (the ``nasforge`` CLI and its worker processes do;
    this function's worker processes get it too). A RuntimeWarning says so once when torch
    runs active waiting with more threads than free cores (``nasforge.threads``)."""
    _check_arguments(dict(space=space, evaluator=evaluator, strategy=strategy, task=task,
                          selection=selection, trials=trials, seconds=seconds, seed=seed,
                          device=device, run_dir=run_dir, resume=resume, progress=progress,
                          workers=workers, supernet_from=supernet_from))
    runtime = resolve_runtime(device, precision, compile)
    space_obj = space if isinstance(space, SearchSpace) else build("space", _component(space))
    task_obj = task if isinstance(task, Task) or task is None else build(
        "task", _component(task, "task"), seed=seed)
    evaluator_obj = None if evaluator is None else _evaluator(
        evaluator, space_obj, task_obj, seed, runtime)
    strategy_obj = strategy if isinstance(strategy, (AskTellStrategy, OneShotStrategy)) else build(
        "strategy", _component(strategy, "strategy"), space=space_obj, seed=seed)
    budget = Budget(trials=trials, seconds=seconds)
    config = _config_if_named(space, task, evaluator, strategy, selection, budget, seed, device,
                              supernet_from, precision, compile)
    if isinstance(strategy_obj, OneShotStrategy):
        if trials is not None or seconds is not None or workers != 1:
            raise ConfigError("a one-shot search runs for its strategy's epochs: drop "
                              "trials=, seconds= and workers=")
        selection_obj = selection if isinstance(selection, Selection) or selection is None \
            else build_selection(_component(selection, "selection"))
        task_obj, selection_obj = check_oneshot(_name(strategy), strategy_obj, space_obj,
                                                task_obj, selection_obj)
        if supernet_from is not None and not resume:
            trained_file(supernet_from, config)  # a bad source fails before the run starts
        result = run_oneshot(space_obj, task_obj, strategy_obj, selection_obj, evaluator_obj,
                             device=runtime, run_dir=run_dir, resume=resume,
                             config=config, progress=progress, seed=seed,
                             supernet_from=supernet_from, advice=PYTHON)
        assert result is not None  # one process: it is rank 0
        return result
    if supernet_from is not None:
        raise ConfigError("supernet_from= is for one-shot strategies")
    return _search_ask_tell(space_obj, evaluator_obj, strategy_obj, selection, budget,
                            run_dir=run_dir, resume=resume, config=config, progress=progress,
                            workers=workers)


def _search_ask_tell(space: SearchSpace, evaluator: Evaluator | None,
                     strategy: AskTellStrategy, selection: Any, budget: Budget, *,
                     run_dir: str | Path | None, resume: bool, config: RunConfig | None,
                     progress: bool, workers: int) -> SearchResult:
    if budget.trials is None and budget.seconds is None:
        raise ConfigError("search() needs trials= and/or seconds=")
    if evaluator is None:
        raise ConfigError("an ask/tell search needs an evaluator")
    if selection is not None:
        raise ConfigError("selection= is for one-shot strategies (darts, spos, pgnas)")
    executor = ProcessExecutor(workers) if workers > 1 else None
    return run_search(space, evaluator, strategy, budget=budget, run_dir=run_dir,
                      resume=resume, config=config, progress=progress, executor=executor,
                      advice=PYTHON)


_SPEC = (str, Mapping)
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "space": ((*_SPEC, SearchSpace), "a name, a spec {'name': ...} or a SearchSpace"),
    "strategy": ((*_SPEC, AskTellStrategy, OneShotStrategy),
                 "a name, a spec {'name': ...} or a strategy object"),
    "task": ((*_SPEC, Task, type(None)), "a name, a spec {'name': ...}, a Task or None"),
    "selection": ((*_SPEC, Selection, type(None)),
                  "a name, a spec {'name': ...}, a Selection or None"),
    "device": ((str,), "a device name such as 'cpu' or 'cuda'"),
    "run_dir": ((str, Path, type(None)), "a path or None"),
    "supernet_from": ((str, Path, type(None)), "a run directory's path or None"),
    "resume": ((bool,), "True or False"),
    "progress": ((bool,), "True or False"),
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
    for name, low in (("seed", 0), ("workers", 1), ("trials", 1)):
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
                     compile: bool | str = "auto") -> RunConfig | None:  # noqa: A002
    """The run's config, when every component was given by name (so it can be written to
    config.yaml and rebuilt); None when objects or functions were passed."""
    specs = {"space": space, "strategy": strategy}
    for section, spec in (("task", task), ("evaluator", evaluator), ("selection", selection)):
        if spec is not None:
            specs[section] = spec
    if not all(isinstance(v, (str, Mapping)) for v in specs.values()):
        return None
    raw: dict[str, Any] = {k: v if isinstance(v, str) else dict(v) for k, v in specs.items()}
    raw.update(seed=seed, device=device, precision=precision, compile=compile,
               budget={"trials": budget.trials, "seconds": budget.seconds})
    if supernet_from is not None:
        raw["supernet_from"] = str(supernet_from)
    return check_config(config_from_dict(raw))
