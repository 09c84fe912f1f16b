"""nasforge: neural architecture search on PyTorch.

The public API: architectures and spaces as data, evaluators, ask/tell strategies, and
``search`` / ``run_search`` to run them (see README for examples).
"""

from nasforge.api import search
from nasforge.architecture import Architecture, Categorical
from nasforge.config import Budget, RunConfig, load_config
from nasforge.errors import NasforgeError
from nasforge.evaluators import Evaluator, FunctionEvaluator, Result
from nasforge.registry import EVALUATORS, SPACES, STRATEGIES, TASKS, Registry
from nasforge.run import SearchResult, run_search
from nasforge.spaces import FunctionSpace, SearchSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies import AskTellStrategy
from nasforge.strategies.evolution import RegularizedEvolution
from nasforge.strategies.random import RandomSearch
from nasforge.task import Shape, Task

__version__ = "0.1.0"

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
    "RandomSearch",
    "Registry",
    "RegularizedEvolution",
    "Result",
    "RunConfig",
    "SearchResult",
    "SearchSpace",
    "Shape",
    "Task",
    "load_config",
    "run_search",
    "search",
]
