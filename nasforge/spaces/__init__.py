"""Search spaces; importing this package registers them."""

from nasforge.spaces import darts, nb201
from nasforge.spaces.base import FunctionSpace, SearchSpace

__all__ = ["FunctionSpace", "SearchSpace", "darts", "nb201"]
