"""Torch-only image transforms and the image-data plumbing shared by the image loaders
(``digits``, ``mnist5k``, ``cifar``, ``imagefolder``).

No torchvision (its PyPI build does not import beside the CPU torch here): random crop with
padding, horizontal flip and per-channel normalisation are written on batched tensors. Random
transforms draw only from the ``torch.Generator`` they are given, so a training run is
reproducible from its seed. Images are ``(N, C, H, W)``; pixels are stored as ``uint8`` and
normalised on access (four times less memory than float32, which matters for CIFAR).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset, Subset

from nasforge.batches import normalize
from nasforge.data.base import limit, mixed_order, search_split, tensor_task
from nasforge.errors import ConfigError
from nasforge.preprocessing import Preprocessing
from nasforge.task import Augment, InMemoryData, Shape, Task


def check_positive(key: str, value: int | None) -> None:
    """Raise ConfigError unless ``value`` is None or a positive integer."""
    if value is not None and value <= 0:
        raise ConfigError(f"{key} must be positive, got {value}")


def stratified_split(labels: np.ndarray, fraction: float, seed: int,
                     key: str = "task.test_fraction") -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of sample indices into (kept, held-out), both sorted: about
    ``fraction`` of every class is held out, and every class keeps at least one sample."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"{key} must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        held.append(members[:min(len(members) - 1, round(len(members) * fraction))])
    held_out = np.sort(np.concatenate(held)).astype(np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    return kept, held_out


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of ``uint8`` images ``(N, C, H, W)`` on the [0, 1] scale,
    exact, from a histogram of the 256 pixel values per channel (no float copy)."""
    counts = torch.stack([torch.bincount(images[:, k].reshape(-1), minlength=256)
                          for k in range(images.shape[1])]).double()  # (C, 256)
    values = torch.arange(256, dtype=torch.float64) / 255.0
    n = counts.sum(1).clamp_min(1.0)
    mean = counts @ values / n
    std = (counts @ values.square() / n - mean.square()).clamp_min(1e-12).sqrt()
    return mean.float(), std.float()


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize images ``(N, C, H, W)`` to ``size x size``: area averaging when shrinking
    (average pooling), bilinear when growing. ``uint8`` in, ``uint8`` out (rounded)."""
    if images.shape[-2:] == (size, size):
        return images
    height, width = images.shape[-2:]
    factor = height // size
    if height == width == size * factor:  # area averaging by a whole factor is pooling: faster
        def resize(chunk: torch.Tensor) -> torch.Tensor:
            return F.avg_pool2d(chunk, factor)
    else:
        mode = "area" if size <= min(height, width) else "bilinear"

        def resize(chunk: torch.Tensor) -> torch.Tensor:
            return F.interpolate(chunk, size=(size, size), mode=mode)
    out = torch.cat([resize(images[s:s + 4096].float()) for s in range(0, len(images), 4096)])
    if images.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator,
                fill: float | Sequence[float] = 0.0) -> torch.Tensor:
    """Pad every image of ``x`` ``(N, C, H, W)`` by ``padding`` pixels of ``fill`` (one value,
    or one per channel) on each side, then cut an ``H x W`` window at a random offset drawn per
    image (torchvision's ``RandomCrop(H, padding)``)."""
    if padding <= 0:
        return x
    offsets = torch.randint(0, 2 * padding + 1, (2, len(x)), generator=generator)
    return crop_at(x, padding, offsets.to(x.device), fill)


def crop_at(x: torch.Tensor, padding: int, offsets: torch.Tensor,
            fill: float | Sequence[float] = 0.0) -> torch.Tensor:
    """The crop of ``random_crop`` at given ``offsets`` ``(2, N)`` (rows, columns; on
    ``x``'s device)."""
    n, c, h, w = x.shape
    padded = x.new_empty(n, c, h + 2 * padding, w + 2 * padding)
    padded[:] = _fill(tuple(fill) if isinstance(fill, Sequence) else (fill,), x.device,
                      x.dtype)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    offsets = offsets.long()
    rows = offsets[0][:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = offsets[1][:, None] + torch.arange(w, device=x.device)  # (N, W)
    width = w + 2 * padding
    flat = (rows[:, :, None] * width + cols[:, None, :]).reshape(n, 1, h * w)  # (N, 1, H*W)
    out = padded.reshape(n, c, -1).gather(2, flat.expand(n, c, h * w))  # (N, C, H*W)
    return out.reshape(n, c, h, w)


@functools.lru_cache(maxsize=64)
def _fill(fill: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The padding value(s) as a ``(C or 1, 1, 1)`` tensor, made once per device and dtype
    (not copied to the device for every batch)."""
    return torch.tensor(fill, dtype=dtype).reshape(-1, 1, 1).to(device)


def random_hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image of ``x`` ``(N, C, H, W)`` left-right with probability ``p``."""
    return flip_where(x, torch.rand(len(x), generator=generator).to(x.device) < p)


def flip_where(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror the images of ``x`` where ``flip`` ``(N,)`` is true."""
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@dataclass(frozen=True)
class CropFlip:
    """The standard CIFAR training augmentation (random crop with padding, then horizontal
    flip) as a batch-level ``Task.augment``. ``fill`` is the padding value per channel, e.g.
    black in normalised units, ``-mean / std``. A plain dataclass, so it pickles.

    It draws ahead (``task.DrawAhead``): ``draw`` takes the crop offsets and flip coins of
    ``n`` images from the generator, in the order ``__call__`` takes them, and ``apply``
    uses them on the device."""

    padding: int = 4
    flip: bool = True
    fill: tuple[float, ...] = (0.0,)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(x, self.draw(len(x), generator).to(x.device))

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(3, n)``: each image's crop row and column offsets and its flip coin."""
        draws = torch.zeros(3, n)
        if self.padding > 0:
            draws[:2] = torch.randint(0, 2 * self.padding + 1, (2, n), generator=generator)
        if self.flip:
            draws[2] = torch.rand(n, generator=generator)
        return draws

    def apply(self, x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        if self.padding > 0:
            x = crop_at(x, self.padding, draws[:2], self.fill)
        return flip_where(x, draws[2] < 0.5) if self.flip else x


def crop_flip(size: int, mean: torch.Tensor, std: torch.Tensor) -> CropFlip:
    """Crop-and-flip for ``size x size`` images: 4 pixels of padding at 32 pixels, scaled with
    the size (at least 1), padded with black as torchvision pads before normalising."""
    return CropFlip(padding=max(1, size // 8), fill=tuple((-mean / std).tolist()))


class NormalizedImages(Dataset):
    """``uint8`` images ``(N, C, H, W)`` and labels in memory, normalised per channel on
    access. ``__getitems__`` normalises a whole batch at once for the DataLoader."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor,
                 std: torch.Tensor) -> None:
        self.images, self.labels = images, labels.long()
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.images)

    def in_memory(self) -> InMemoryData:
        return InMemoryData(self.images, self.labels, self.mean, self.std)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return normalize(self.images[index], self.mean, self.std), self.labels[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x = normalize(self.images[indices], self.mean, self.std)  # (B, C, H, W)
        return list(zip(x.unbind(0), self.labels[indices].unbind(0), strict=True))


TRAIN_ORDER, VALID_ORDER, TEST_ORDER = 1, 2, 3  # mixed_order streams of the three splits


def in_mixed_order(test: Dataset) -> Subset:
    """The held-out test set in one fixed mixed order (the same for every run seed)."""
    return Subset(test, mixed_order(range(len(test)), 0, TEST_ORDER))  # type: ignore[arg-type]


def subset_task(name: str, train: Dataset, test: Dataset, *, shape: Shape, seed: int,
                valid_fraction: float, train_size: int | None, batch_size: int,
                augment: Augment | None, info: dict[str, object],
                preprocessing: Preprocessing | None = None) -> Task:
    """A Task over a map-style data set, cut exactly as ``tensor_task`` cuts arrays: a seeded
    ``train_size`` subset of the official training set, then the seeded search split."""
    check_positive("task.batch_size", batch_size)
    keep = limit(len(train), train_size, seed)  # type: ignore[arg-type]
    train_idx, valid_idx = search_split(len(keep), valid_fraction, seed)
    return Task(
        name=name,
        train=Subset(train, mixed_order(keep[train_idx], seed, TRAIN_ORDER)),
        valid=Subset(train, mixed_order(keep[valid_idx], seed, VALID_ORDER)),
        test=in_mixed_order(test),
        shape=shape,
        batch_size=batch_size,
        augment=augment,
        info={"train": len(train_idx), "valid": len(valid_idx),
              "test": len(test), **info},  # type: ignore[arg-type]
        preprocessing=preprocessing,
    )


def held_out_task(name: str, images: torch.Tensor, labels: np.ndarray, *, num_classes: int,
                  seed: int, data_seed: int, test_fraction: float,
                  valid_fraction: float, train_size: int | None, batch_size: int,
                  raw_scale: float = 1.0) -> Task:
    """A Task from a data set with no official test split: a stratified ``test_fraction`` is
    held out from ``data_seed`` (the same test set for every search seed), pixels are
    normalised with the training part's mean and std, and the rest is cut into search-train /
    search-valid from ``seed``. ``raw_scale`` is what the raw pixels were multiplied by to
    give ``images`` (kept in the task's preprocessing for models that take raw pixels)."""
    check_positive("task.batch_size", batch_size)
    train_idx, test_idx = stratified_split(labels, test_fraction, data_seed)
    train_t, test_t = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    mean, std = images[train_t].mean().item(), images[train_t].std().item()
    x = (images - mean) / std
    task = tensor_task(name, x[train_t], labels[train_idx], x[test_t], labels[test_idx],
                       num_classes=num_classes, seed=seed, valid_fraction=valid_fraction,
                       train_size=train_size, batch_size=batch_size)
    task.info.update(mean=[mean], std=[std])
    side = images.shape[-1]
    task.preprocessing = Preprocessing(tuple(images.shape[1:]), scale=raw_scale, mean=mean,
                                       std=std, image_size=side if images.ndim == 4 else None)
    return task
