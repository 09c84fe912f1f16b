"""Random search: uniform samples from the space."""

from __future__ import annotations

from typing import Any

from nasforge.architecture import Architecture
from nasforge.evaluators.base import Result
from nasforge.registry import STRATEGIES
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.task import Task


@STRATEGIES.register("random")
class RandomSearch(AskTellStrategy):
    """Random search (Bergstra & Bengio, 2012; the NAS baseline of Li & Talwalkar, 2019):
    every architecture is drawn uniformly from the space, independently of the results (within
    the constraints, if any: uniform over the feasible architectures).

    ``unique``: never ask an architecture twice (by its key, so isomorphic NB201 cells count
    as one): uniform sampling without replacement, e.g. to build a table of distinct cells."""

    def __init__(self, space: SearchSpace, seed: int = 0, unique: bool = False,
                 constraints: dict[str, Any] | None = None, task: Task | None = None,
                 max_rejections: int = 1000) -> None:
        super().__init__(space, seed, constraints, task, max_rejections)
        self.unique = unique
        self.asked: set[str] = set()

    def ask(self) -> Architecture:
        if not self.unique:
            if self.constraints is None:
                return self.space.sample(self.rng)
            return self.sample_feasible()
        arch = self.sample_feasible(accept=lambda a: a.key() not in self.asked)
        self.asked.add(arch.key())
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        del arch, result  # random search learns nothing

    def extra_state(self) -> dict[str, Any]:
        return {"asked": sorted(self.asked)} if self.unique else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.asked = set(state.get("asked", []))
