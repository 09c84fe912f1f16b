"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from a local copy in the official python pickle
format. Nothing downloads: a missing copy is a DataError that says where to get it."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from nasforge.data.transforms import (
    NormalizedImages,
    channel_stats,
    check_positive,
    crop_flip,
    resize_images,
    subset_task,
)
from nasforge.errors import DataError
from nasforge.registry import TASKS
from nasforge.task import Shape, Task

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR version keeps its batches inside the official python archive."""

    name: str  # the task name
    title: str  # the data set's name in messages
    archive: str  # the file to download
    folder: str  # what the archive unpacks to
    train: tuple[str, ...]
    test: tuple[str, ...]


CIFAR10 = CifarLayout("cifar10", "CIFAR-10", "cifar-10-python.tar.gz", "cifar-10-batches-py",
                      tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",))
CIFAR100 = CifarLayout("cifar100", "CIFAR-100", "cifar-100-python.tar.gz", "cifar-100-python",
                       ("train",), ("test",))


def default_root() -> str:
    """``$NASFORGE_DATA`` if set, else ``./data``."""
    return os.environ.get("NASFORGE_DATA") or "data"


def find_folder(root: str | Path, layout: CifarLayout) -> Path:
    """The folder holding the batch files: ``root/<folder>``, or ``root`` itself."""
    root = Path(root).expanduser().absolute()
    for folder in (root / layout.folder, root):
        if all((folder / name).is_file() for name in layout.train + layout.test):
            return folder
    raise DataError(
        f"{layout.title} not found under {root}: download {layout.archive} (python version) "
        f"from {CIFAR_URL} and unpack it there (tar xzf {layout.archive} -C {root}), so that "
        f"{root / layout.folder} holds {', '.join(layout.train[:1] + layout.test)}"
    )


def _entry(batch: dict[Any, Any], key: str) -> Any:
    """A batch entry by key, whether the pickle stored it as bytes (official) or str."""
    if key.encode() in batch:
        return batch[key.encode()]
    return batch[key]


def read_batch(path: Path, label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One official batch file: uint8 images ``(n, 3, 32, 32)`` and int64 labels."""
    try:
        with path.open("rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data = np.asarray(_entry(batch, "data"), dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(_entry(batch, label_key), dtype=np.int64)
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR python batch ({type(exc).__name__}: {exc}); "
                        f"unpack a fresh copy from {CIFAR_URL}") from None
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return torch.from_numpy(data.copy()), torch.from_numpy(labels)


def read_split(folder: Path, names: tuple[str, ...], label_key: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The batches ``names`` concatenated."""
    parts = [read_batch(folder / name, label_key) for name in names]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def cifar_task(layout: CifarLayout, *, label_key: str, num_classes: int, seed: int,
               root: str | None, train_size: int | None, valid_fraction: float,
               batch_size: int, augment: bool, size: int | None) -> Task:
    """Build a CIFAR Task: official train set -> search train / valid (seeded), official test
    set held out. Per-channel mean / std come from the whole official training set."""
    check_positive("task.size", size)
    folder = find_folder(root or default_root(), layout)
    x_train, y_train = read_split(folder, layout.train, label_key)
    x_test, y_test = read_split(folder, layout.test, label_key)
    if size is not None:
        x_train, x_test = resize_images(x_train, size), resize_images(x_test, size)
    if len(y_train) and int(y_train.max()) >= num_classes:
        raise DataError(f"{folder}: label {int(y_train.max())} but {num_classes} classes")
    mean, std = channel_stats(x_train)
    side = x_train.shape[-1]
    return subset_task(
        layout.name, NormalizedImages(x_train, y_train, mean, std),
        NormalizedImages(x_test, y_test, mean, std), shape=Shape((3, side, side), num_classes),
        seed=seed, valid_fraction=valid_fraction, train_size=train_size,
        batch_size=batch_size, augment=crop_flip(side, mean, std) if augment else None,
        info={"root": str(folder), "mean": mean.tolist(), "std": std.tolist()},
    )


@TASKS.register("cifar10")
def cifar10_task(seed: int = 0, root: str | None = None, train_size: int | None = None,
                 valid_fraction: float = 0.2, batch_size: int = 128, augment: bool = True,
                 size: int | None = None) -> Task:
    """CIFAR-10: 10 classes of 3x32x32 images (50,000 train, 10,000 test). ``root`` holds
    ``cifar-10-batches-py/`` (or is that folder); default ``$NASFORGE_DATA`` or ``./data``.
    ``augment`` = random crop with 4-pixel padding + horizontal flip on training batches;
    ``size`` downsamples (e.g. 16) by average pooling."""
    return cifar_task(CIFAR10, label_key="labels", num_classes=10, seed=seed, root=root,
                      train_size=train_size, valid_fraction=valid_fraction,
                      batch_size=batch_size, augment=augment, size=size)


@TASKS.register("cifar100")
def cifar100_task(seed: int = 0, root: str | None = None, train_size: int | None = None,
                  valid_fraction: float = 0.2, batch_size: int = 128, augment: bool = True,
                  size: int | None = None, labels: Literal["fine", "coarse"] = "fine") -> Task:
    """CIFAR-100: 100 fine classes (or 20 coarse superclasses) of 3x32x32 images (50,000
    train, 10,000 test). ``root`` holds ``cifar-100-python/`` (or is that folder); the other
    options as for ``cifar10``."""
    return cifar_task(CIFAR100, label_key=f"{labels}_labels",
                      num_classes=100 if labels == "fine" else 20, seed=seed, root=root,
                      train_size=train_size, valid_fraction=valid_fraction,
                      batch_size=batch_size, augment=augment, size=size)
