"""Shared data plumbing: in-memory tensor data sets, the seeded search split, the cache dir."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nasforge.errors import ConfigError
from nasforge.task import Augment, Shape, Task


def cache_root() -> Path:
    """nasforge's cache folder, ``$NASFORGE_CACHE`` or ``~/.cache/nasforge`` (not created)."""
    return Path(os.environ.get("NASFORGE_CACHE") or Path.home() / ".cache" / "nasforge")


def cache_dir() -> Path:
    """Where generated data sets are cached (``cache_root``, created on first use)."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def search_split(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of ``n`` training samples into search-train and search-valid indices."""
    if not 0.0 < valid_fraction < 1.0:
        raise ConfigError(f"task.valid_fraction must be in (0, 1), got {valid_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_valid = max(1, round(n * valid_fraction))
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def mixed_order(indices: np.ndarray | range, seed: int, stream: int) -> list[int]:
    """``indices`` in a seeded random order (``stream`` tells the splits apart). Images stored
    class by class (an archive, class folders) would otherwise reach a loader that does not
    shuffle as single-class batches: batch norm in train mode (DARTS-PT's measurements) then
    normalises one class at a time, and a prefix (``loader(limit=...)``, capped valid
    batches) holds only the first classes. The members of a split do not change."""
    order = np.random.default_rng([seed, stream]).permutation(np.asarray(indices))
    return [int(i) for i in order]


def limit(n_available: int, n_wanted: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of size ``n_wanted`` (all, when None)."""
    if n_wanted is not None and n_wanted <= 0:
        raise ConfigError(f"task.train_size must be positive, got {n_wanted}")
    if n_wanted is not None and n_wanted > n_available:
        raise ConfigError(f"task.train_size={n_wanted} is more than the {n_available} training "
                          "samples there are")
    if n_wanted is None or n_wanted == n_available:
        return np.arange(n_available)
    return np.sort(np.random.default_rng(seed + 1).permutation(n_available)[:n_wanted])


def tensor_task(name: str, x_train: np.ndarray | torch.Tensor, y_train: np.ndarray | torch.Tensor,
                x_test: np.ndarray | torch.Tensor, y_test: np.ndarray | torch.Tensor, *,
                num_classes: int, seed: int, valid_fraction: float = 0.2,
                train_size: int | None = None, batch_size: int = 128,
                augment: Augment | None = None) -> Task:
    """A Task from arrays: the official training set is cut (seeded) into search-train and
    search-valid; the official test set stays held out for reporting."""
    xs, ys = torch.as_tensor(x_train), torch.as_tensor(y_train).long()
    keep = torch.as_tensor(limit(len(xs), train_size, seed))
    xs, ys = xs[keep], ys[keep]
    train_idx, valid_idx = (torch.as_tensor(i) for i in search_split(len(xs), valid_fraction, seed))
    return Task(
        name=name,
        train=TensorDataset(xs[train_idx], ys[train_idx]),
        valid=TensorDataset(xs[valid_idx], ys[valid_idx]),
        test=TensorDataset(torch.as_tensor(x_test), torch.as_tensor(y_test).long()),
        shape=Shape(tuple(xs.shape[1:]), num_classes),
        batch_size=batch_size,
        augment=augment,
        info={"train": len(train_idx), "valid": len(valid_idx), "test": len(x_test)},
    )
