"""Architecture selection from a trained supernet; importing this package registers them."""

from nasforge.selection import argmax, evolution, perturbation, posterior
from nasforge.selection.base import Selection, SelectionContext

__all__ = ["Selection", "SelectionContext", "argmax", "evolution", "perturbation",
           "posterior"]
