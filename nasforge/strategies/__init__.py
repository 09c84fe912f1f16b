"""Search strategies; importing this package registers them."""

from nasforge.strategies import (
    controller,
    darts,
    evolution,
    pgnas,
    random,
    spos,
    spos_evolution,
)
from nasforge.strategies.base import AskTellStrategy

__all__ = ["AskTellStrategy", "controller", "darts", "evolution", "pgnas", "random", "spos",
           "spos_evolution"]
