"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from a local copy: the official python pickle
format, or (CIFAR-10) an archive or folder of images per class. Nothing downloads: a missing
copy is a DataError that says where to get it."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Subset

from nasforge.data.base import mixed_order
from nasforge.data.image_archive import ARCHIVE_SUFFIXES, is_archive, is_split_folder, load_images
from nasforge.data.image_archive import LAYOUT as ARCHIVE_LAYOUT
from nasforge.data.transforms import (
    TRAIN_ORDER,
    VALID_ORDER,
    NormalizedImages,
    channel_stats,
    check_positive,
    crop_flip,
    in_mixed_order,
    resize_images,
    stratified_split,
    subset_task,
)
from nasforge.errors import ConfigError, DataError
from nasforge.preprocessing import Preprocessing
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
# CIFAR-10's label order (batches.meta), which is also the sorted order of its class folders
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


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


def read_official(root: str | None, layout: CifarLayout, label_key: str
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Path]:
    """The official train and test images (uint8) and labels from a pickle folder."""
    folder = find_folder(root or default_root(), layout)
    x_train, y_train = read_split(folder, layout.train, label_key)
    x_test, y_test = read_split(folder, layout.test, label_key)
    return x_train, y_train, x_test, y_test, folder


def read_cifar10(root: str | None, cache: str | None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Path]:
    """CIFAR-10 from a ``.tar.gz`` of ``train/<class>/*.jpg`` + ``test/<class>/*.jpg`` (the
    shared JPEG copy), the same layout unpacked, or the official pickle folder."""
    source = Path(root or default_root()).expanduser().absolute()
    if is_archive(source) or is_split_folder(source):
        images = load_images(source, side=32, cache=cache)
        if len(images.classes) != 10:
            raise DataError(f"{source}: {len(images.classes)} class folders, CIFAR-10 has 10")
        return (torch.from_numpy(images.x_train), torch.from_numpy(images.y_train),
                torch.from_numpy(images.x_test), torch.from_numpy(images.y_test), source)
    if source.is_file():
        raise DataError(f"{source}: not an image archive ({', '.join(ARCHIVE_SUFFIXES)}); "
                        f"expected {ARCHIVE_LAYOUT} or the official python batches")
    return read_official(str(source), CIFAR10, "labels")


def stratified_search_split(labels: np.ndarray, *, seed: int, train_size: int | None,
                            valid_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """NAS-Bench-201's protocol: a seeded split of the official training images into
    search-train and search-valid with every class in the same proportion in both (halves by
    default); ``train_size`` first keeps a stratified subset of that many images."""
    keep = np.arange(len(labels))
    check_positive("task.train_size", train_size)
    if train_size is not None and train_size > len(labels):
        raise ConfigError(f"task.train_size={train_size} is more than the {len(labels)} "
                          "training images there are")
    if train_size is not None and train_size < len(labels):
        drop = 1.0 - train_size / len(labels)
        keep = stratified_split(labels, drop, seed + 1, key="task.train_size")[0]
    train, valid = stratified_split(labels[keep], valid_fraction, seed, key="task.valid_fraction")
    return keep[train], keep[valid]


def cifar_task(layout: CifarLayout, data: tuple[torch.Tensor, ...], where: Path, *,
               num_classes: int, seed: int, train_size: int | None, valid_fraction: float,
               batch_size: int, augment: bool, size: int | None, stratified: bool) -> Task:
    """Build a CIFAR Task: official train set -> search train / valid (seeded), official test
    set held out. Per-channel mean / std come from the whole official training set."""
    check_positive("task.size", size)
    check_positive("task.batch_size", batch_size)
    x_train, y_train, x_test, y_test = data
    if size is not None:
        x_train, x_test = resize_images(x_train, size), resize_images(x_test, size)
    if len(y_train) and int(y_train.max()) >= num_classes:
        raise DataError(f"{where}: label {int(y_train.max())} but {num_classes} classes")
    mean, std = channel_stats(x_train)
    side = x_train.shape[-1]
    train = NormalizedImages(x_train, y_train, mean, std)
    test = NormalizedImages(x_test, y_test, mean, std)
    shape = Shape((3, side, side), num_classes)
    info: dict[str, object] = {"root": str(where), "mean": mean.tolist(), "std": std.tolist()}
    flip = crop_flip(side, mean, std) if augment else None
    prepare = Preprocessing.per_channel(shape.input_shape, mean.tolist(), std.tolist(),
                                        scale=1 / 255, image_size=side,
                                        classes=CIFAR10_CLASSES if num_classes == 10 else None)
    if not stratified:
        return subset_task(layout.name, train, test, shape=shape, seed=seed,
                           valid_fraction=valid_fraction, train_size=train_size,
                           batch_size=batch_size, augment=flip, info=info,
                           preprocessing=prepare)
    train_idx, valid_idx = stratified_search_split(
        y_train.numpy(), seed=seed, train_size=train_size, valid_fraction=valid_fraction)
    return Task(layout.name, Subset(train, mixed_order(train_idx, seed, TRAIN_ORDER)),
                Subset(train, mixed_order(valid_idx, seed, VALID_ORDER)),
                in_mixed_order(test), shape, batch_size=batch_size, augment=flip,
                info={"train": len(train_idx), "valid": len(valid_idx), "test": len(test),
                      **info}, preprocessing=prepare)


@TASKS.register("cifar10")
def cifar10_task(seed: int = 0, root: str | None = None, train_size: int | None = None,
                 valid_fraction: float = 0.5, batch_size: int = 128, augment: bool = True,
                 size: int | None = None, cache: str | None = None) -> Task:
    """CIFAR-10: 10 classes of 3x32x32 images (50,000 train, 10,000 test). ``root`` is a
    ``.tar.gz`` of ``train/<class>/*`` and ``test/<class>/*`` images (e.g. the shared JPEG
    copy), that layout unpacked, or the official ``cifar-10-batches-py/`` (or a folder holding
    it); default ``$NASFORGE_DATA`` or ``./data``. Images from an archive or folder are decoded
    once and cached (``cache``, default ``$NASFORGE_CACHE/images``), keyed by a checksum.

    The split is NAS-Bench-201's: the official training images are cut (seeded by ``seed``,
    stratified by class) into search-train and search-valid halves (``valid_fraction``);
    ``train_size`` first keeps a stratified subset of that many training images; the official
    test images are held out. Every split is stored in a seeded mixed order (``mixed_order``:
    an archive is read class by class). ``augment`` = random crop with 4-pixel padding +
    horizontal flip on training batches; ``size`` downsamples (e.g. 16, ImageNet16-like) by
    average pooling."""
    *data, where = read_cifar10(root, cache)
    return cifar_task(CIFAR10, tuple(data), where, num_classes=10, seed=seed,
                      train_size=train_size, valid_fraction=valid_fraction,
                      batch_size=batch_size, augment=augment, size=size, stratified=True)


@TASKS.register("cifar100")
def cifar100_task(seed: int = 0, root: str | None = None, train_size: int | None = None,
                  valid_fraction: float = 0.2, batch_size: int = 128, augment: bool = True,
                  size: int | None = None, labels: Literal["fine", "coarse"] = "fine") -> Task:
    """CIFAR-100: 100 fine classes (or 20 coarse superclasses) of 3x32x32 images (50,000
    train, 10,000 test). ``root`` holds ``cifar-100-python/`` (or is that folder); the other
    options as for ``cifar10`` (but the split is a plain seeded one, 20% valid by default)."""
    *data, where = read_official(root, CIFAR100, f"{labels}_labels")
    return cifar_task(CIFAR100, tuple(data), where,
                      num_classes=100 if labels == "fine" else 20, seed=seed,
                      train_size=train_size, valid_fraction=valid_fraction,
                      batch_size=batch_size, augment=augment, size=size, stratified=False)
