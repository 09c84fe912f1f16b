"""Ask/tell strategies: ``ask() -> Architecture``, ``tell(arch, result)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from nasforge.architecture import Architecture
from nasforge.evaluators.base import Result
from nasforge.spaces.base import SearchSpace


class AskTellStrategy(ABC):
    """Decides what to try next. Owns a seeded generator; ``state_dict`` holds everything
    (generator state included) needed to continue exactly where it stopped."""

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self) -> Architecture: ...

    @abstractmethod
    def tell(self, arch: Architecture, result: Result) -> None: ...

    @property
    def finished(self) -> bool:
        """True when the strategy has nothing more to try (e.g. a space exhausted)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, **self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.load_extra_state(state)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        del state
