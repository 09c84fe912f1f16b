"""The search-space interface: decisions, sampling, mutation, and building a network."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError
from nasforge.nn.counting import Cost, measure
from nasforge.task import Shape

# What a space may offer besides these core verbs is a Protocol beside the one consumer that
# uses it, which a space offers by having its methods: ``CountsBitOps`` and ``OwnLatency``
# (nasforge.constraints), ``Drawable`` (nasforge.report.cells), ``LayerWise``
# (nasforge.strategies.controller), ``ChoosesTraining`` (nasforge.evaluators.train). One-shot
# supernets are registered per space name instead (``nasforge.supernet``).


class SearchSpace(ABC):
    """A set of named discrete decisions. Holds no weights: ``build`` makes a fresh network.

    Subclasses set ``decisions`` and implement ``build``; they may override ``key`` (to merge
    isomorphic architectures), ``parse``/``format`` (a space's own text format) and ``cost``.
    """

    name: str = "custom"

    @property
    @abstractmethod
    def decisions(self) -> tuple[Categorical, ...]: ...

    @abstractmethod
    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        """A standalone network for ``arch``, freshly initialised."""

    def options(self) -> dict[str, Any]:
        """The keyword options that rebuild this space through the registry."""
        return {}

    def size(self) -> int:
        return int(np.prod([len(d) for d in self.decisions], dtype=object))

    def sample(self, rng: np.random.Generator) -> Architecture:
        return Architecture({d.label: d.options[rng.integers(len(d))] for d in self.decisions})

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """Change one decision (chosen uniformly among those with >1 option) to another option."""
        mutable = [d for d in self.decisions if len(d) > 1]
        if not mutable:
            return arch
        decision = mutable[rng.integers(len(mutable))]
        others = [o for o in decision.options if o != arch[decision.label]]
        return arch.replace(**{decision.label: others[rng.integers(len(others))]})

    def contains(self, arch: Architecture) -> bool:
        try:
            self.validate(arch)
        except ArchitectureError:
            return False
        return True

    def validate(self, arch: Architecture) -> Architecture:
        labels = {d.label for d in self.decisions}
        missing = sorted(labels - set(arch))
        extra = sorted(set(arch) - labels)
        if missing or extra:
            raise ArchitectureError(
                f"architecture does not fit space {self.name!r}: "
                f"missing {missing}, unexpected {extra}"
            )
        for decision in self.decisions:
            decision.index(arch[decision.label])
        return arch

    def key(self, arch: Architecture) -> str:
        """Equal for architectures that compute the same function (plain key by default)."""
        return arch.key()

    def parse(self, text: str) -> Architecture:
        return self.validate(Architecture.from_json(text))

    def format(self, arch: Architecture) -> str:
        return arch.to_json()

    def cost(self, arch: Architecture, shape: Shape) -> Cost:
        return measure(self.build(arch, shape), shape.input_shape)


class FunctionSpace(SearchSpace):
    """A user's space from a list of decisions and a ``build(arch, shape)`` function."""

    def __init__(self, decisions: Sequence[Categorical],
                 build: Callable[[Architecture, Shape], nn.Module] | None = None,
                 name: str = "custom") -> None:
        self._decisions = tuple(decisions)
        self._build = build
        self.name = name

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return self._decisions

    @property
    def build_function(self) -> Callable[[Architecture, Shape], nn.Module] | None:
        """The user's ``build`` (a run stores it by reference: ``nasforge.spaces.reference``)."""
        return self._build

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        if self._build is None:
            raise NotImplementedError(f"space {self.name!r} was given no build function")
        return self._build(self.validate(arch), shape)
