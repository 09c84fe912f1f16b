"""One-shot supernets; importing this package registers the supernet of each space.

Spaces never import supernets (a supernet module imports its space): each supernet module
registers a factory ``(space, shape, **options) -> Supernet`` under its space's name, in
``SUPERNETS`` (every op: DARTS, SPOS, DARTS-PT) or ``GATED_SUPERNETS`` (gated middle channels:
PGNAS). A new space offers a supernet by registering one, like ``register_cell_drawer``."""

from __future__ import annotations

from typing import Any

from nasforge.errors import ConfigError
from nasforge.registry import GATED_SUPERNETS, SUPERNETS
from nasforge.spaces.base import SearchSpace
from nasforge.supernet import darts, gated_multibranch, gated_nb201, nb201, shufflenet
from nasforge.supernet.base import Supernet
from nasforge.task import Shape

__all__ = ["Supernet", "build_gated_supernet", "build_oneshot_supernet", "build_supernet",
           "check_has_supernet", "darts", "gated_multibranch", "gated_nb201",
           "has_gated_supernet", "has_supernet", "nb201", "shufflenet"]


def has_supernet(space: SearchSpace) -> bool:
    return space.name in SUPERNETS


def has_gated_supernet(space: SearchSpace) -> bool:
    return space.name in GATED_SUPERNETS


def check_has_supernet(space: SearchSpace, *, gated: bool = False) -> None:
    """Raise a ConfigError naming the spaces that have one if ``space`` has no (gated)
    supernet."""
    if gated and not has_gated_supernet(space):
        raise ConfigError(f"pgnas has no gated supernet for space {space.name!r} (spaces "
                          f"with one: {', '.join(GATED_SUPERNETS.names())})")
    if not gated and not has_supernet(space):
        raise ConfigError(f"space {space.name!r} has no supernet: one-shot strategies need one "
                          f"(spaces with one: {', '.join(SUPERNETS.names())})")


def build_supernet(space: SearchSpace, shape: Shape, **options: Any) -> Supernet:
    """Every op of ``space`` in one network (``options``: e.g. DARTS's C, layers)."""
    check_has_supernet(space)
    return SUPERNETS.build(space.name, space=space, shape=shape, **options)  # type: ignore[no-any-return]


def build_gated_supernet(space: SearchSpace, shape: Shape, **options: Any) -> Supernet:
    """``space``'s supernet with learned channel gates (PGNAS; ``options``: init_p, tau)."""
    check_has_supernet(space, gated=True)
    return GATED_SUPERNETS.build(space.name, space=space, shape=shape, **options)  # type: ignore[no-any-return]


def build_oneshot_supernet(space: SearchSpace, shape: Shape, *, gated: bool = False,
                           **options: Any) -> Supernet:
    """The one factory of a one-shot run's supernet: the run builds it, and a checkpoint is
    rebuilt, by this call with the same arguments (``nasforge.supernet.checkpoint``)."""
    make = build_gated_supernet if gated else build_supernet
    return make(space, shape, **options)
