"""Build a run's components from a config through the registries."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nasforge.config import COMPONENT_SECTIONS, Budget, Component, RunConfig, check_options
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator
from nasforge.registry import (
    EVALUATORS,
    EXECUTORS,
    SELECTIONS,
    SPACES,
    STRATEGIES,
    TASKS,
    Registry,
)
from nasforge.run.executors import Executor
from nasforge.run.loop import run_search
from nasforge.run.store import STORE_NAME, Trial
from nasforge.runtime import Runtime, resolve_device, resolve_runtime
from nasforge.selection.base import Selection
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.task import Task

__all__ = ["Components", "build", "build_components", "resolve_device", "resolve_runtime"]


def registries() -> dict[str, Registry[Any]]:
    """Every registry, filled: importing the component packages registers their entries."""
    import nasforge.data  # noqa: F401  (registers tasks)
    import nasforge.evaluators  # noqa: F401
    import nasforge.run.ray_executor  # noqa: F401  (Ray itself is imported only when used)
    import nasforge.selection  # noqa: F401
    import nasforge.simulate  # noqa: F401
    import nasforge.spaces  # noqa: F401
    import nasforge.strategies  # noqa: F401
    import nasforge.supernet  # noqa: F401  (registers the supernet of each space)

    return {"space": SPACES, "task": TASKS, "evaluator": EVALUATORS, "strategy": STRATEGIES,
            "selection": SELECTIONS, "executor": EXECUTORS}


def factory_for(section: str, name: str) -> Callable[..., Any]:
    return registries()[section].get(name)


def check_config(config: RunConfig) -> RunConfig:
    """Every component of ``config`` names a registered factory and passes it only options it
    takes, of the types it declares (a typo is a ConfigError naming the key)."""
    for section in (*COMPONENT_SECTIONS, "executor"):
        comp = getattr(config, section)
        if comp is not None:
            check_options(factory_for(section, comp.name), comp.options, section)
    return config


def make_executor(options: dict[str, Any] | None) -> Executor:
    """The executor a config's ``executor`` section names (local when it names none)."""
    options = dict(options or {"name": "local"})
    name = str(options.pop("name", "local"))
    factory = factory_for("executor", name)
    try:
        return factory(**options)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"executor {name!r}: {exc}") from None


def build(section: str, comp: Component, **injected: Any) -> Any:
    """Call the factory with the config's options plus whichever injected arguments
    (space, task, seed, device) its signature asks for."""
    factory = factory_for(section, comp.name)
    target = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    params = inspect.signature(target).parameters
    wanted = {k: v for k, v in injected.items() if k in params}
    return factory(**dict(comp.options), **wanted)


class RunnerInnerSearch:
    """The inner search a selection runs (``selection.base.InnerSearch``): strategies from
    the registry, searches by ``run_search`` (resumed when its directory holds one)."""

    def check_strategy(self, comp: Component, where: str) -> None:
        factory = factory_for("strategy", comp.name)
        if not (isinstance(factory, type) and issubclass(factory, AskTellStrategy)):
            raise ConfigError(f"{where} must be an ask/tell strategy, not {comp.name!r}")
        check_options(factory, comp.options, where)

    def make_strategy(self, comp: Component, space: SearchSpace, task: Task, seed: int
                      ) -> AskTellStrategy:
        strategy = build("strategy", comp, space=space, seed=seed, task=task)
        assert isinstance(strategy, AskTellStrategy)  # check_strategy said so
        return strategy

    def run(self, space: SearchSpace, evaluator: Evaluator, strategy: AskTellStrategy, *,
            budget: Budget, run_dir: Path | None, progress: bool | None, label: str
            ) -> list[Trial]:
        resume = run_dir is not None and (run_dir / STORE_NAME).is_file()
        return run_search(space, evaluator, strategy, budget=budget, run_dir=run_dir,
                          resume=resume, progress=progress, label=label).trials


def build_selection(comp: Component) -> Selection:
    """A selection, given the inner search if it runs one."""
    return build("selection", comp, inner_search=RunnerInnerSearch())  # type: ignore[no-any-return]


def check_oneshot(name: str, strategy: OneShotStrategy, space: SearchSpace,
                  task: Task | None, selection: Selection | None) -> tuple[Task, Selection]:
    """What a one-shot search needs (a task, a selection, a supernet of the space), checked
    before hours of supernet training, not after."""
    if task is None:
        raise ConfigError(f"strategy {name!r} trains a supernet: add a task section")
    if selection is None:
        raise ConfigError(f"strategy {name!r} needs a selection section "
                          "(e.g. selection: {name: perturbation})")
    if strategy.epochs < 1:
        raise ConfigError(f"strategy.epochs={strategy.epochs}: a one-shot search trains its "
                          "supernet for at least one epoch (supernet_from starts from one "
                          "another run trained)")
    strategy.check_space()
    selection.check(space, task, strategy)
    return task, selection


@dataclass
class Components:
    space: SearchSpace
    task: Task | None
    evaluator: Evaluator | None
    strategy: AskTellStrategy | OneShotStrategy
    selection: Selection | None
    runtime: Runtime

    @property
    def device(self) -> torch.device:
        return self.runtime.device


def build_components(config: RunConfig) -> Components:
    check_config(config)
    runtime = resolve_runtime(config.device, config.precision, config.compile)
    space = build("space", config.space)
    task = None
    if config.task is not None:
        task = build("task", config.task, seed=config.seed)
    evaluator = None
    if config.evaluator is not None:
        evaluator = build("evaluator", config.evaluator, space=space, task=task,
                          seed=config.seed, device=runtime.device, runtime=runtime)
    # task: constraints count FLOPs / params on the task's input shape (not CIFAR-10's)
    strategy = build("strategy", config.strategy, space=space, seed=config.seed, task=task)
    selection = None if config.selection is None else build_selection(config.selection)
    return Components(space, task, evaluator, strategy, selection, runtime)
