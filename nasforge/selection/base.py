"""The selection interface: a trained supernet in, one architecture out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nasforge.architecture import Architecture
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet.base import Supernet
from nasforge.task import Task


@dataclass
class SelectionContext:
    """What a selection may use. ``save(state)`` checkpoints its progress (with the supernet);
    ``state`` is the progress restored on resume (None on a fresh start)."""

    supernet: Supernet
    strategy: OneShotStrategy
    task: Task
    device: torch.device
    rng: np.random.Generator
    save: Callable[[dict[str, Any]], None] = lambda state: None
    state: dict[str, Any] | None = None
    progress: bool = False
    scores: list[dict[str, Any]] = field(default_factory=list)


class Selection(ABC):
    @abstractmethod
    def select(self, ctx: SelectionContext) -> Architecture:
        """Choose the architecture; append every measured score to ``ctx.scores``."""


def best_op(ops: tuple[str, ...], strengths: torch.Tensor) -> tuple[str, float]:
    """The strongest op that is not ``none`` (DARTS never selects ``none``)."""
    candidates = [(float(strengths[i]), op) for i, op in enumerate(ops) if op != "none"]
    if not candidates:  # an edge whose only op is none
        return "none", 0.0
    value, op = max(candidates)
    return op, value
