"""Regularized (aging) evolution."""

from __future__ import annotations

from collections import deque
from typing import Any

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.registry import STRATEGIES
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.task import Task

MAX_POPULATION = 1_000_000  # more is a typo: a search of random samples that never evolves


@STRATEGIES.register("evolution")
class RegularizedEvolution(AskTellStrategy):
    """Regularized evolution (Real et al., AAAI 2019, Algorithm 1).

    The first ``population`` asks are random. After that each ask samples ``sample_size``
    members uniformly (with replacement, as in the paper), mutates the best of them (one
    decision changed), and each tell appends the child and removes the OLDEST member.

    ``skip_duplicates``: redraw a child whose isomorphism key (``space.key``) was already
    asked, up to ``max_redraws`` times (off by default, as in the paper).

    ``constraints``: a child over a limit is rejected and the parent mutated again (up to
    ``max_redraws`` times, then a random feasible architecture); see AskTellStrategy.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, population: int = 100,
                 sample_size: int = 25, skip_duplicates: bool = False,
                 max_redraws: int = 100, constraints: dict[str, Any] | None = None,
                 task: Task | None = None, max_rejections: int = 1000) -> None:
        super().__init__(space, seed, constraints, task, max_rejections)
        if population > MAX_POPULATION:
            raise ConfigError(f"evolution: population {population:,} is more than "
                              f"{MAX_POPULATION:,}")
        if population < 1 or not 1 <= sample_size <= population:
            raise ConfigError(
                f"evolution needs population >= 1 and 1 <= sample_size <= population, "
                f"got population={population}, sample_size={sample_size}"
            )
        self.population_size = population
        self.sample_size = sample_size
        self.skip_duplicates = skip_duplicates
        self.max_redraws = max_redraws
        self.population: deque[tuple[Architecture, float]] = deque()
        self.n_asked = 0
        self.seen: set[str] = set()

    def ask(self) -> Architecture:
        for _ in range(self.max_redraws if self.skip_duplicates else 1):
            arch = self._propose()
            if not self.skip_duplicates or self.space.key(arch) not in self.seen:
                break
        self.n_asked += 1
        self.seen.add(self.space.key(arch))
        return arch

    def _propose(self) -> Architecture:
        if self.n_asked < self.population_size or not self.population:
            return self.sample_feasible() if self.constraints else self.space.sample(self.rng)
        picks = self.rng.integers(len(self.population), size=self.sample_size)
        parent = max((self.population[i] for i in picks), key=lambda member: member[1])
        if self.constraints is None:
            return self.space.mutate(parent[0], self.rng)
        child = self.draw(lambda: self.space.mutate(parent[0], self.rng), self.max_redraws)
        return child if child is not None else self.sample_feasible()

    def tell(self, arch: Architecture, result: Result) -> None:
        if not result.ok:
            return  # a failed child never joins the population
        self.population.append((arch, result.objective))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def extra_state(self) -> dict[str, Any]:
        return {
            "population": [[a.to_dict(), f] for a, f in self.population],
            "n_asked": self.n_asked,
            "seen": sorted(self.seen),
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.population = deque((Architecture(a), f) for a, f in state["population"])
        self.n_asked = state["n_asked"]
        self.seen = set(state["seen"])
