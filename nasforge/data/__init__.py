"""Data sets as Tasks; importing this package registers them. Nothing downloads."""

from nasforge.data import arrays, cifar, digits, imagefolder, mnist1d, mnist5k, synthetic
from nasforge.data.arrays import task_from
from nasforge.data.base import tensor_task

__all__ = ["arrays", "cifar", "digits", "imagefolder", "mnist1d", "mnist5k", "synthetic",
           "task_from", "tensor_task"]
