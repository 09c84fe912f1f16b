"""The evolutionary search of Single Path One-Shot, as an ask/tell strategy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.registry import STRATEGIES
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.evolution import MAX_POPULATION
from nasforge.task import Task


@STRATEGIES.register("spos_evolution")
class SPOSEvolution(AskTellStrategy):
    """Evolutionary architecture search of SPOS (Guo et al., ECCV 2020, Sec. 3.5, Algorithm 1).

    Generation 0 is ``population`` random candidates. Each later generation is made from the
    ``top_k`` best candidates scored so far (over the whole history, as the authors' code
    keeps them): ``mutation`` children (a top-k parent, each decision redrawn with
    probability ``mutation_prob``), ``crossover`` children (each decision from one of two
    top-k parents), then random candidates up to ``population``. Each operator gets at most
    10x its target number of tries. A candidate that breaks the constraints or was already
    proposed is rejected before it is evaluated. After ``generations`` generations the
    strategy is finished; the answer is the best candidate ever scored.

    Defaults are the paper's: population 50, 20 generations, top 10, 25 + 25 children,
    mutation probability 0.1. Note: with asynchronous evaluation a generation is built from
    the top-k known when it is needed (serially, the previous generation is complete).
    """

    def __init__(self, space: SearchSpace, seed: int = 0, population: int = 50,
                 generations: int = 20, top_k: int = 10, mutation: int = 25,
                 crossover: int = 25, mutation_prob: float = 0.1,
                 constraints: dict[str, Any] | None = None, task: Task | None = None,
                 max_rejections: int = 1000) -> None:
        super().__init__(space, seed, constraints, task, max_rejections)
        _check(population, generations, top_k, mutation, crossover, mutation_prob)
        self.population, self.generations, self.top_k = population, generations, top_k
        self.n_mutation, self.n_crossover, self.mutation_prob = mutation, crossover, \
            mutation_prob
        self.queue: list[Architecture] = []
        self.generation = 0  # generations made so far
        self.top: list[tuple[Architecture, float]] = []
        self.seen: set[str] = set()
        self.pending: dict[str, int] = {}  # key -> generation, asked but not told
        self.sizes: list[int] = []  # candidates per generation
        self.told: list[int] = []
        self.history: list[dict[str, float]] = []  # one row per completed generation

    @property
    def finished(self) -> bool:
        """True after the last generation, or when no new candidate is left in the space.
        (Makes the next generation when the queue is empty, so it can tell.)"""
        if not self.queue and self.generation < self.generations:
            self._next_generation()
        return not self.queue

    def ask(self) -> Architecture:
        if self.finished:
            raise ConfigError("spos_evolution is finished: no generation left to ask from")
        arch = self.queue.pop(0)
        self.pending[self.space.key(arch)] = self.generation - 1
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        generation = self.pending.pop(self.space.key(arch), self.generation - 1)
        if result.ok:
            self.top.append((arch, result.objective))
            self.top.sort(key=lambda member: -member[1])  # stable: earlier first on ties
            del self.top[self.top_k:]
        self.told[generation] += 1
        if self.told[generation] == self.sizes[generation]:
            self._record(generation)

    def _record(self, generation: int) -> None:
        scores = [score for _, score in self.top]
        self.history.append({"generation": generation, "best": max(scores, default=np.nan),
                             "top_k_mean": float(np.mean(scores)) if scores else np.nan,
                             "evaluated": sum(self.told), "rejected": self.rejected})

    def _next_generation(self) -> None:
        children: list[Architecture] = []
        if self.top:
            children += self._breed(self._mutant, self.n_mutation)
            children += self._breed(self._cross, self.n_crossover)
        while len(children) < self.population:
            arch = self.draw(lambda: self.space.sample(self.rng), self.max_rejections, self._new)
            if arch is None:
                break
            children.append(self._accept(arch))
        if not children:  # nothing new is left: finished, or nothing was ever feasible
            if not self.seen:
                raise self.infeasible()
            self.generation = self.generations
            return
        self.queue = children
        self.sizes.append(len(children))
        self.told.append(0)
        self.generation += 1

    def _breed(self, make: Callable[[], Architecture], target: int) -> list[Architecture]:
        children: list[Architecture] = []
        for _ in range(10 * target):
            if len(children) >= target:
                break
            child = self.draw(make, 1, self._new)
            if child is not None:
                children.append(self._accept(child))
        return children

    def _mutant(self) -> Architecture:
        parent = self.top[self.rng.integers(len(self.top))][0]
        return resample_genes(self.space, parent, self.rng, self.mutation_prob)

    def _cross(self) -> Architecture:
        first, second = (self.top[i][0] for i in self.rng.integers(len(self.top), size=2))
        return crossover(self.space, first, second, self.rng)

    def _new(self, arch: Architecture) -> bool:
        return self.space.key(arch) not in self.seen and self.space.contains(arch)

    def _accept(self, arch: Architecture) -> Architecture:
        self.seen.add(self.space.key(arch))
        return arch

    def extra_state(self) -> dict[str, Any]:
        return {
            "queue": [a.to_dict() for a in self.queue],
            "generation": self.generation,
            "top": [[a.to_dict(), s] for a, s in self.top],
            "seen": sorted(self.seen),
            "pending": dict(self.pending),
            "sizes": list(self.sizes),
            "told": list(self.told),
            "history": list(self.history),
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.queue = [Architecture(a) for a in state["queue"]]
        self.generation = state["generation"]
        self.top = [(Architecture(a), s) for a, s in state["top"]]
        self.seen = set(state["seen"])
        self.pending = dict(state["pending"])
        self.sizes, self.told = list(state["sizes"]), list(state["told"])
        self.history = list(state["history"])


def _check(population: int, generations: int, top_k: int, mutation: int, crossover: int,
           mutation_prob: float) -> None:
    if max(population, generations) > MAX_POPULATION:
        raise ConfigError(f"spos_evolution: population and generations must be at most "
                          f"{MAX_POPULATION:,}, got {population:,} and {generations:,}")
    if min(population, generations, top_k) < 1 or min(mutation, crossover) < 0:
        raise ConfigError("spos_evolution needs population, generations, top_k >= 1 and "
                          "mutation, crossover >= 0")
    if mutation + crossover > population:
        raise ConfigError(f"mutation + crossover children ({mutation + crossover}) exceed "
                          f"the population ({population})")
    if not 0.0 <= mutation_prob <= 1.0:
        raise ConfigError(f"mutation_prob must be in [0, 1], got {mutation_prob}")


def resample_genes(space: SearchSpace, arch: Architecture, rng: np.random.Generator,
                   prob: float) -> Architecture:
    """Each decision independently redrawn (uniformly over all its options) with
    probability ``prob``: the mutation of SPOS's evolutionary search."""
    changes = {d.label: d.options[rng.integers(len(d))] for d in space.decisions
               if rng.random() < prob}
    return arch.replace(**changes) if changes else arch


def crossover(space: SearchSpace, first: Architecture, second: Architecture,
              rng: np.random.Generator) -> Architecture:
    """Each decision taken from one of the two parents, uniformly (uniform crossover). The
    child may break a space's coupling rules: the search checks ``space.contains``."""
    picks = rng.integers(2, size=len(space.decisions))
    return Architecture({d.label: (first if pick == 0 else second)[d.label]
                         for d, pick in zip(space.decisions, picks, strict=True)})
