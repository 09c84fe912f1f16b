"""Build a run's components from a config through the registries."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from nasforge.config import Component, RunConfig
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator
from nasforge.registry import EVALUATORS, SELECTIONS, SPACES, STRATEGIES, TASKS, Registry
from nasforge.selection.base import Selection
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.task import Task


def _registries() -> dict[str, Registry[Any]]:
    import nasforge.data  # noqa: F401  (registers tasks)
    import nasforge.evaluators  # noqa: F401
    import nasforge.selection  # noqa: F401
    import nasforge.spaces  # noqa: F401
    import nasforge.strategies  # noqa: F401

    return {"space": SPACES, "task": TASKS, "evaluator": EVALUATORS, "strategy": STRATEGIES,
            "selection": SELECTIONS}


def factory_for(section: str, name: str) -> Callable[..., Any]:
    return _registries()[section].get(name)


def resolve_device(device: str) -> torch.device:
    """The config's ``device`` ("auto": a GPU when there is one). A device this machine does
    not have is a user error, found here once instead of in every trial."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"device {device!r} is not a device name (available: "
                          f"{', '.join(available_devices())})") from None
    if chosen.type != "cpu" and not _has(chosen):
        raise ConfigError(f"device {device!r} is not available on this machine (available: "
                          f"{', '.join(available_devices())})")
    return chosen


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def _has(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return False  # xpu, meta, ...: not something nasforge runs on


def build(section: str, comp: Component, **injected: Any) -> Any:
    """Call the factory with the config's options plus whichever injected arguments
    (space, task, seed, device) its signature asks for."""
    factory = factory_for(section, comp.name)
    target = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    params = inspect.signature(target).parameters
    wanted = {k: v for k, v in injected.items() if k in params}
    return factory(**dict(comp.options), **wanted)


@dataclass
class Components:
    space: SearchSpace
    task: Task | None
    evaluator: Evaluator | None
    strategy: AskTellStrategy | OneShotStrategy
    selection: Selection | None
    device: torch.device


def build_components(config: RunConfig) -> Components:
    device = resolve_device(config.device)
    space = build("space", config.space)
    task = None
    if config.task is not None:
        task = build("task", config.task, seed=config.seed)
    evaluator = None
    if config.evaluator is not None:
        evaluator = build("evaluator", config.evaluator, space=space, task=task,
                          seed=config.seed, device=device)
    strategy = build("strategy", config.strategy, space=space, seed=config.seed)
    selection = None if config.selection is None else build("selection", config.selection)
    return Components(space, task, evaluator, strategy, selection, device)
