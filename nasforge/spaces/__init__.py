"""Search spaces; importing this package registers them."""

from nasforge.spaces import darts, multibranch, nb201
from nasforge.spaces.base import FunctionSpace, SearchSpace

__all__ = ["FunctionSpace", "SearchSpace", "darts", "multibranch", "nb201"]
