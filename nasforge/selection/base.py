"""The selection interface: a trained supernet in, one architecture out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from nasforge.architecture import Architecture
from nasforge.config import Budget, Component
from nasforge.evaluators.base import Evaluator
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet.base import Supernet
from nasforge.task import Task

if TYPE_CHECKING:
    from nasforge.report.figure import Plot
    from nasforge.run.store import Trial
    from nasforge.strategies.base import AskTellStrategy


class InnerSearch(Protocol):
    """The ability to run an ask/tell search inside a selection (e.g. SPOS's evolution on
    the trained supernet). Given to a selection by whoever builds it
    (``nasforge.run.components``), so that selections never import the run loop."""

    def check_strategy(self, comp: Component, where: str) -> None:
        """Raise a ConfigError unless ``comp`` names an ask/tell strategy with valid options."""

    def make_strategy(self, comp: Component, space: SearchSpace, task: Task, seed: int
                      ) -> AskTellStrategy: ...

    def run(self, space: SearchSpace, evaluator: Evaluator, strategy: AskTellStrategy, *,
            budget: Budget, run_dir: Path | None, progress: bool | None, label: str
            ) -> list[Trial]:
        """Search (resuming the run in ``run_dir`` if it holds one); the trials."""


@dataclass
class SelectionContext:
    """What a selection may use. ``save(state)`` checkpoints its progress (with the supernet);
    ``state`` is the progress restored on resume (None on a fresh start); ``run_dir`` is the
    run's directory (None for a run in memory), where a selection may keep its own files."""

    supernet: Supernet
    strategy: OneShotStrategy
    task: Task
    device: torch.device | Runtime  # a device alone: float32, eager
    rng: np.random.Generator
    save: Callable[[dict[str, Any]], None] = lambda state: None
    state: dict[str, Any] | None = None
    progress: bool | None = False
    scores: list[dict[str, Any]] = field(default_factory=list)
    space: SearchSpace | None = None
    run_dir: Path | None = None
    runtime: Runtime = field(init=False)

    def __post_init__(self) -> None:
        self.runtime = Runtime.of(self.device)
        self.device = self.runtime.device


class Selection(ABC):
    @abstractmethod
    def select(self, ctx: SelectionContext) -> Architecture:
        """Choose the architecture; append every measured score to ``ctx.scores``."""

    def check(self, space: SearchSpace, task: Task, strategy: OneShotStrategy) -> None:
        """Fail fast on options that cannot work with this space, task and supernet training
        (called before the supernet is trained)."""
        del space, task, strategy

    def report_plots(self, run_dir: Path) -> list[Plot]:
        """Plots this selection drew into ``run_dir`` for the run's report."""
        del run_dir
        return []


def best_op(ops: tuple[str, ...], strengths: torch.Tensor, allow_none: bool = False
            ) -> tuple[str, float]:
    """The strongest op that is not ``none`` (DARTS never selects ``none``), or the strongest
    of all with ``allow_none``."""
    candidates = [(float(strengths[i]), op) for i, op in enumerate(ops)
                  if allow_none or op != "none"]
    if not candidates:  # an edge whose only op is none
        return "none", 0.0
    value, op = max(candidates)
    return op, value
