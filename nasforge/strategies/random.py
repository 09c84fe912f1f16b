"""Random search: uniform samples from the space."""

from __future__ import annotations

from nasforge.architecture import Architecture
from nasforge.evaluators.base import Result
from nasforge.registry import STRATEGIES
from nasforge.strategies.base import AskTellStrategy


@STRATEGIES.register("random")
class RandomSearch(AskTellStrategy):
    """Random search (Bergstra & Bengio, 2012; the NAS baseline of Li & Talwalkar, 2019):
    every architecture is drawn uniformly from the space, independently of the results (within
    the constraints, if any: uniform over the feasible architectures)."""

    def ask(self) -> Architecture:
        if self.constraints is None:
            return self.space.sample(self.rng)
        return self.sample_feasible()

    def tell(self, arch: Architecture, result: Result) -> None:
        del arch, result  # random search learns nothing
