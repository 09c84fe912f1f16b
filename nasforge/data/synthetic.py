"""A seeded synthetic classification task: no files, builds in milliseconds (for tests)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.nn import functional as F

from nasforge.data.base import tensor_task
from nasforge.data.transforms import check_positive, stratified_split
from nasforge.errors import ConfigError
from nasforge.registry import TASKS
from nasforge.task import Task


def make_synthetic(num_samples: int, num_classes: int, channels: int, size: int,
                   dims: Literal[1, 2], noise: float, seed: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_samples`` inputs ``(channels, size)`` (dims 1) or ``(channels, size, size)``
    (dims 2) and balanced labels. Each class has a smooth Gaussian template (white noise at a
    quarter of the resolution, upsampled, scaled to unit variance); a sample is its class's
    template plus white noise of std ``noise``, scaled by ``1 / sqrt(1 + noise^2)`` so inputs
    have unit variance. The same arguments give the same tensors."""
    gen = torch.Generator().manual_seed(seed)
    coarse = max(1, size // 4)
    templates = torch.randn(num_classes, channels, *[coarse] * dims, generator=gen)
    mode = "linear" if dims == 1 else "bilinear"
    templates = F.interpolate(templates, size=[size] * dims, mode=mode, align_corners=False)
    templates = templates / templates.std().clamp_min(1e-6)  # (K, C, *S)
    labels = (torch.arange(num_samples) % num_classes)[torch.randperm(num_samples, generator=gen)]
    x = templates[labels] + noise * torch.randn(num_samples, *templates.shape[1:], generator=gen)
    return x / math.sqrt(1.0 + noise**2), labels


def _check(num_samples: int, num_classes: int, channels: int, size: int, noise: float,
           batch_size: int) -> None:
    """Raise ConfigError for options that cannot make a task."""
    for key, value in (("num_samples", num_samples), ("channels", channels), ("size", size),
                       ("batch_size", batch_size)):
        check_positive(f"task.{key}", value)
    if num_classes < 2:
        raise ConfigError(f"task.num_classes must be at least 2, got {num_classes}")
    if num_samples < 3 * num_classes:
        raise ConfigError(f"task.num_samples must be at least 3 per class "
                          f"({3 * num_classes}), got {num_samples}")
    if noise < 0:
        raise ConfigError(f"task.noise must be non-negative, got {noise}")


@TASKS.register("synthetic")
def synthetic_task(seed: int = 0, num_samples: int = 1000, num_classes: int = 10,
                   channels: int = 3, size: int = 16, dims: Literal[1, 2] = 2,
                   noise: float = 1.0, test_fraction: float = 0.2,
                   train_size: int | None = None, valid_fraction: float = 0.2,
                   batch_size: int = 128, data_seed: int = 0) -> Task:
    """Synthetic: ``num_classes`` classes of ``channels x size x size`` images (``dims: 2``)
    or ``channels x size`` sequences (``dims: 1``), Gaussian class templates plus noise
    (higher ``noise`` = harder). The data and the stratified held-out ``test_fraction`` come
    from ``data_seed``; the search split from ``seed``."""
    _check(num_samples, num_classes, channels, size, noise, batch_size)
    if dims not in (1, 2):
        raise ConfigError(f"task.dims must be 1 or 2, got {dims}")
    x, y = make_synthetic(num_samples, num_classes, channels, size, dims, noise, data_seed)
    train_idx, test_idx = (torch.from_numpy(i) for i in
                           stratified_split(y.numpy(), test_fraction, data_seed + 1))
    task = tensor_task("synthetic", x[train_idx], y[train_idx], x[test_idx], y[test_idx],
                       num_classes=num_classes, seed=seed, valid_fraction=valid_fraction,
                       train_size=train_size, batch_size=batch_size)
    task.info.update(noise=noise, data_seed=data_seed)
    return task

