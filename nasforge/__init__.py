"""nasforge: neural architecture search on PyTorch.

The public API: architectures and spaces as data, evaluators, ask/tell strategies, and
``search`` / ``run_search`` to run them (see README for examples).

Names are imported on first use (PEP 562), so ``import nasforge`` and the CLI's own module do
not load torch: the CLI sets passive OpenMP waiting before torch loads (``nasforge.threads``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_HOMES = {
    "search": "nasforge.api",
    "Architecture": "nasforge.architecture",
    "Categorical": "nasforge.architecture",
    "Budget": "nasforge.config",
    "RunConfig": "nasforge.config",
    "load_config": "nasforge.config",
    "NasforgeError": "nasforge.errors",
    "Evaluator": "nasforge.evaluators",
    "FunctionEvaluator": "nasforge.evaluators",
    "Result": "nasforge.evaluators",
    "EVALUATORS": "nasforge.registry",
    "SPACES": "nasforge.registry",
    "STRATEGIES": "nasforge.registry",
    "TASKS": "nasforge.registry",
    "Registry": "nasforge.registry",
    "SearchResult": "nasforge.run.directory",
    "run_search": "nasforge.run.loop",
    "FunctionSpace": "nasforge.spaces",
    "SearchSpace": "nasforge.spaces",
    "NB201Space": "nasforge.spaces.nb201",
    "AskTellStrategy": "nasforge.strategies",
    "RegularizedEvolution": "nasforge.strategies.evolution",
    "RandomSearch": "nasforge.strategies.random",
    "Shape": "nasforge.task",
    "Task": "nasforge.task",
    "task_from": "nasforge.data.arrays",
    "Preprocessing": "nasforge.preprocessing",
    "train": "nasforge.model.retrain",
    "Predictor": "nasforge.model.io",
    "load": "nasforge.model.io",
    "export": "nasforge.model.io",
}

__all__ = [
    "EVALUATORS",
    "SPACES",
    "STRATEGIES",
    "TASKS",
    "Architecture",
    "AskTellStrategy",
    "Budget",
    "Categorical",
    "Evaluator",
    "FunctionEvaluator",
    "FunctionSpace",
    "NB201Space",
    "NasforgeError",
    "Predictor",
    "Preprocessing",
    "RandomSearch",
    "Registry",
    "RegularizedEvolution",
    "Result",
    "RunConfig",
    "SearchResult",
    "SearchSpace",
    "Shape",
    "Task",
    "export",
    "load",
    "load_config",
    "run_search",
    "search",
    "task_from",
    "train",
]

if TYPE_CHECKING:
    from nasforge.api import search
    from nasforge.architecture import Architecture, Categorical
    from nasforge.config import Budget, RunConfig, load_config
    from nasforge.data.arrays import task_from
    from nasforge.errors import NasforgeError
    from nasforge.evaluators import Evaluator, FunctionEvaluator, Result
    from nasforge.model.io import Predictor, export, load
    from nasforge.model.retrain import train
    from nasforge.preprocessing import Preprocessing
    from nasforge.registry import EVALUATORS, SPACES, STRATEGIES, TASKS, Registry
    from nasforge.run.directory import SearchResult
    from nasforge.run.loop import run_search
    from nasforge.spaces import FunctionSpace, SearchSpace
    from nasforge.spaces.nb201 import NB201Space
    from nasforge.strategies import AskTellStrategy
    from nasforge.strategies.evolution import RegularizedEvolution
    from nasforge.strategies.random import RandomSearch
    from nasforge.task import Shape, Task


_REGISTRIES = frozenset({"EVALUATORS", "SPACES", "STRATEGIES", "TASKS"})


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'nasforge' has no attribute {name!r}")
    if name in _REGISTRIES:  # filled before they are first seen, not when a search runs
        importlib.import_module("nasforge.run.components").registries()
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
