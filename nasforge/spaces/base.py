"""The search-space interface: decisions, sampling, mutation, and building a network."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError
from nasforge.nn.counting import Cost, measure
from nasforge.task import Shape

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# What a space may offer besides the core verbs: methods of SearchSpace whose base versions
# say "not offered"; a space offers one by overriding it (``SearchSpace.offers``). One-shot
# supernets are registered per space name instead (``nasforge.supernet``).
CAPABILITIES = ("bitops", "latency", "draw", "training_overrides", "anchor_decisions",
                "layer_decisions", "layer_of")


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

    def resample_genes(self, arch: Architecture, rng: np.random.Generator,
                       prob: float) -> Architecture:
        """Each decision independently redrawn (uniformly over all its options) with
        probability ``prob``: the mutation of SPOS's evolutionary search."""
        changes = {d.label: d.options[rng.integers(len(d))] for d in self.decisions
                   if rng.random() < prob}
        return arch.replace(**changes) if changes else arch

    def crossover(self, first: Architecture, second: Architecture,
                  rng: np.random.Generator) -> Architecture:
        """Each decision taken from one of the two parents, uniformly (uniform crossover).
        The child may break a space's coupling rules: callers check ``contains``."""
        picks = rng.integers(2, size=len(self.decisions))
        return Architecture({d.label: (first if pick == 0 else second)[d.label]
                             for d, pick in zip(self.decisions, picks, strict=True)})

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

    # -- optional capabilities (see CAPABILITIES) -----------------------------------------

    def offers(self, capability: str) -> bool:
        """Whether this space overrides the base version of ``capability``."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r} (known: {CAPABILITIES})")
        return getattr(type(self), capability) is not getattr(SearchSpace, capability)

    def bitops(self, arch: Architecture, shape: Shape) -> int:
        """Multiply-adds x weight bits x activation bits (spaces that search bit widths)."""
        raise NotImplementedError(f"space {self.name!r} searches no bit widths")

    def latency(self, arch: Architecture, entries: Mapping[str, float]) -> float:
        """Latency from a lookup table in the space's own keys (else the constraints use
        ``nasforge.constraints.additive_latency``: one entry per decision)."""
        raise NotImplementedError(f"space {self.name!r} has no latency of its own")

    def draw(self, arch: Architecture, ax: Axes) -> None:
        """Draw ``arch`` into ``ax`` for the report (else a registered drawer or a table)."""
        raise NotImplementedError

    def training_overrides(self, arch: Architecture) -> dict[str, Any]:
        """Training settings the architecture itself chooses (e.g. the macro space's lr)."""
        del arch
        return {}

    def anchor_decisions(self) -> dict[str, tuple[int, int]]:
        """Connection decisions, label -> (layer, input layer), of a layer-wise space (the
        controller writes such a space layer by layer, with ``layer_decisions``)."""
        return {}

    def layer_decisions(self, i: int) -> list[Categorical]:
        """Layer ``i``'s decisions in the order a controller emits them."""
        raise NotImplementedError(f"space {self.name!r} is not layer-wise")

    def layer_of(self, label: str) -> int | None:
        """The layer a decision belongs to (None: a global decision, or not layer-wise)."""
        del label
        return None


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
