"""Any image classification data set laid out one folder per class, ImageNet-style, read
with Pillow: ``root/train/<class>/*.png|jpg`` and optionally ``root/val/<class>/*``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from nasforge.data.transforms import (
    NormalizedImages,
    channel_stats,
    check_positive,
    crop_flip,
    normalize,
    stratified_split,
    subset_task,
)
from nasforge.errors import DataError
from nasforge.preprocessing import Preprocessing
from nasforge.registry import TASKS
from nasforge.task import Shape, Task

SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"})
LAYOUT = "root/train/<class>/<image> (and optionally root/val/<class>/<image>)"
STATS_SAMPLES = 512  # images the lazy mode reads to estimate the channel mean and std


def scan(folder: Path, classes: list[str] | None = None
         ) -> tuple[list[str], list[Path], np.ndarray]:
    """Class names (sorted sub-folder names), image files and their labels under ``folder``.
    With ``classes`` given (a val folder), labels follow that list."""
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError(f"{folder}: no class folders; expected {LAYOUT}")
    classes = classes or found
    index = {name: i for i, name in enumerate(classes)}
    files: list[Path] = []
    labels: list[int] = []
    for name in found:
        if name not in index:
            raise DataError(f"{folder / name}: class {name!r} is not among the training classes")
        images = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in SUFFIXES)
        files += images
        labels += [index[name]] * len(images)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(sorted(SUFFIXES))}); expected {LAYOUT}")
    return classes, files, np.asarray(labels, dtype=np.int64)


def train_and_val_folders(root: str) -> tuple[Path, Path | None]:
    """``root/train`` (or ``root`` itself when it holds the class folders) and ``root/val``
    (``None`` when absent, then a test set is split off the training images)."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"image folder {base} not found: put the images there as {LAYOUT}")
    train = base / "train"
    if not train.is_dir():
        return base, None
    val = base / "val"
    return train, val if val.is_dir() else None


def load_image(path: Path, size: int) -> torch.Tensor:
    """One image as RGB ``uint8`` ``(3, size, size)`` (Pillow bilinear resize, no crop)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    return torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1)


class ImageFiles(Dataset):
    """Images read from disk on every access (lazy), resized and normalised per channel."""

    def __init__(self, files: list[Path], labels: np.ndarray, size: int,
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        self.files, self.labels, self.size = files, torch.as_tensor(labels).long(), size
        self.mean = torch.zeros(3) if mean is None else mean  # None: pixels in [0, 1]
        self.std = torch.ones(3) if std is None else std

    def __len__(self) -> int:
        return len(self.files)

    def raw(self, index: int) -> torch.Tensor:
        """The ``uint8`` image ``(3, size, size)``."""
        return load_image(self.files[index], self.size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return normalize(self.raw(index), self.mean, self.std), self.labels[index]


def _stats_lazy(files: ImageFiles, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel mean / std estimated from up to ``STATS_SAMPLES`` seeded training images."""
    order = np.random.default_rng(seed).permutation(len(files))[:STATS_SAMPLES]
    return channel_stats(torch.stack([files.raw(int(i)) for i in np.sort(order)]))


def _datasets(train: ImageFiles, test: ImageFiles, cache: bool, seed: int
              ) -> tuple[Dataset, Dataset, torch.Tensor, torch.Tensor]:
    """Normalised train / test data sets: decoded once into memory (``cache``) or lazily."""
    if not cache:
        mean, std = _stats_lazy(train, seed)
        train.mean, train.std, test.mean, test.std = mean, std, mean, std
        return train, test, mean, std
    x_train = torch.stack([train.raw(i) for i in range(len(train))])  # (n, 3, s, s) uint8
    x_test = torch.stack([test.raw(i) for i in range(len(test))])
    mean, std = channel_stats(x_train)
    return (NormalizedImages(x_train, train.labels, mean, std),
            NormalizedImages(x_test, test.labels, mean, std), mean, std)


def _train_and_test(root: str, size: int, test_fraction: float, data_seed: int
                    ) -> tuple[list[str], ImageFiles, ImageFiles]:
    """Classes plus the (lazy) official training and held-out test images."""
    train_dir, val_dir = train_and_val_folders(root)
    classes, files, labels = scan(train_dir)
    if val_dir is not None:
        _, test_files, test_labels = scan(val_dir, classes)
        return classes, ImageFiles(files, labels, size), ImageFiles(test_files, test_labels, size)
    keep, held = stratified_split(labels, test_fraction, data_seed)
    if len(held) == 0:
        raise DataError(f"{train_dir}: too few images per class to hold out a test set; "
                        f"add images or a val folder ({LAYOUT})")
    return (classes, ImageFiles([files[i] for i in keep], labels[keep], size),
            ImageFiles([files[i] for i in held], labels[held], size))


@TASKS.register("imagefolder")
def imagefolder_task(root: str, seed: int = 0, size: int = 32, train_size: int | None = None,
                     valid_fraction: float = 0.2, test_fraction: float = 0.2,
                     batch_size: int = 128, augment: bool = True, cache: bool = True,
                     data_seed: int = 0) -> Task:
    """Class-per-folder images, resized to RGB ``size x size``. ``root/val`` is the held-out
    test set; without it a stratified ``test_fraction`` of ``root/train`` (or of ``root``,
    when it holds the class folders itself) is held out from ``data_seed``. ``cache`` decodes
    every image once into memory (uint8); otherwise images are read on each access and the
    channel statistics estimated from 512 training images. ``augment`` = random crop with
    ``size // 8`` pixels of padding + horizontal flip on training batches."""
    check_positive("task.size", size)
    classes, train_files, test_files = _train_and_test(root, size, test_fraction, data_seed)
    train, test, mean, std = _datasets(train_files, test_files, cache, data_seed)
    task = subset_task(
        "imagefolder", train, test, shape=Shape((3, size, size), len(classes)), seed=seed,
        valid_fraction=valid_fraction, train_size=train_size, batch_size=batch_size,
        augment=crop_flip(size, mean, std) if augment else None,
        info={"root": str(Path(root).expanduser()), "classes": classes, "derived": True,
              "mean": mean.tolist(), "std": std.tolist()},
        preprocessing=Preprocessing.per_channel((3, size, size), mean.tolist(), std.tolist(),
                                                scale=1 / 255, image_size=size,
                                                classes=tuple(classes)),
    )
    return task
