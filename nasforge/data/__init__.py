"""Data sets as Tasks; importing this package registers them. Nothing downloads."""

from nasforge.data import cifar, digits, imagefolder, mnist1d, mnist5k, synthetic
from nasforge.data.base import tensor_task

__all__ = ["cifar", "digits", "imagefolder", "mnist1d", "mnist5k", "synthetic", "tensor_task"]
