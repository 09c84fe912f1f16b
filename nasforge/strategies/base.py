"""Ask/tell strategies: ``ask() -> Architecture``, ``tell(arch, result)``."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.architecture import Architecture
from nasforge.constraints import make_constraints
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.spaces.base import SearchSpace
from nasforge.task import Task

if TYPE_CHECKING:
    from nasforge.report.figure import Plot


class AskTellStrategy(ABC):
    """Decides what to try next. Owns a seeded generator; ``state_dict`` holds everything
    (generator state included) needed to continue exactly where it stopped.

    ``constraints`` (see nasforge.constraints): candidates over a FLOPs / params / latency
    limit are rejected and redrawn before they are asked; ``max_rejections`` draws in a row
    without a feasible one stop the search with an error (an infeasible constraint never
    loops forever). ``task`` gives the input shape the costs are computed for.
    """

    def __init__(self, space: SearchSpace, seed: int = 0,
                 constraints: dict[str, Any] | None = None, task: Task | None = None,
                 max_rejections: int = 1000) -> None:
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.constraints = make_constraints(space, task.shape if task else None, constraints)
        if max_rejections < 1:
            raise ConfigError(f"strategy.max_rejections must be >= 1, got {max_rejections}")
        self.max_rejections = max_rejections
        self.rejected = 0  # candidates rejected by the constraints so far

    def feasible(self, arch: Architecture) -> bool:
        """Whether ``arch`` satisfies the constraints (a rejection is counted)."""
        if self.constraints is None or self.constraints.violation(arch) is None:
            return True
        self.rejected += 1
        return False

    def draw(self, propose: Callable[[], Architecture], tries: int,
             accept: Callable[[Architecture], bool] = lambda arch: True) -> Architecture | None:
        """The first of up to ``tries`` proposals that ``accept`` and the constraints allow."""
        for _ in range(tries):
            arch = propose()
            if accept(arch) and self.feasible(arch):
                return arch
        return None

    def sample_feasible(self, accept: Callable[[Architecture], bool] = lambda arch: True
                        ) -> Architecture:
        """A uniform random architecture within the constraints; raises when
        ``max_rejections`` draws in a row all fail."""
        arch = self.draw(lambda: self.space.sample(self.rng), self.max_rejections, accept)
        if arch is None:
            raise self.infeasible()
        return arch

    def check_feasible(self) -> None:
        """Raise now, not mid-search, if no architecture fits the constraints (on a copy: the
        strategy's own random stream is untouched)."""
        if self.constraints is not None:
            copy.deepcopy(self).sample_feasible()

    def infeasible(self) -> ConfigError:
        limits = self.constraints.describe() if self.constraints else "no constraints"
        return ConfigError(
            f"no architecture satisfies the constraints ({limits}): {self.max_rejections} "
            "random draws in a row were rejected; loosen the limits")

    @abstractmethod
    def ask(self) -> Architecture: ...

    @abstractmethod
    def tell(self, arch: Architecture, result: Result) -> None: ...

    @property
    def finished(self) -> bool:
        """True when the strategy has nothing more to try (e.g. a space exhausted)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "rejected": self.rejected,
                **self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.rejected = state.get("rejected", 0)
        self.load_extra_state(state)

    def report_plots(self, run_dir: Path) -> list[Plot]:
        """Plots of the strategy's own progress, drawn into ``run_dir`` for the report."""
        del run_dir
        return []

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        del state
