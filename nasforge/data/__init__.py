"""Data sets as Tasks; importing this package registers them. Nothing downloads."""

from nasforge.data import mnist1d
from nasforge.data.base import tensor_task

__all__ = ["mnist1d", "tensor_task"]
