"""Search spaces; importing this package registers them."""

from nasforge.spaces import darts, macro, multibranch, nb201, rnn_cell, shufflenet
from nasforge.spaces.base import FunctionSpace, SearchSpace

__all__ = ["FunctionSpace", "SearchSpace", "darts", "macro", "multibranch", "nb201",
           "rnn_cell", "shufflenet"]
