"""Batches where the model is: a split's tensors kept on the model's device, batches cut,
normalised and augmented there.

A data set that holds its samples in memory (``task.InMemory``: CIFAR, image folders,
MNIST-1D, digits, any ``TensorDataset``, and ``Subset``s of them) is copied to the device
once (CIFAR-10 at 32x32 is 150 MB as uint8); each epoch then costs one host-to-device copy
of its sample order and of its augmentation draws, and every batch is a gather, a
normalisation and a crop/flip on the device: no per-batch host copy and nothing that waits
for the device. Other data sets go through a ``DataLoader`` (pinned memory on CUDA).

The batches are exactly those of ``Task.loader`` (same order from the same seed, same
augmentation draws from the same generator, same values), so a run gives the numbers it gave
before this module existed; only where they are computed changed.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from nasforge.task import Augment, DrawAhead, InMemory, Split, Task

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Source:
    """A split as tensors: ``x[rows]`` / ``y[rows]`` are its samples in order; uint8 images
    are normalised per channel with ``mean`` / ``std`` when cut into batches."""

    x: torch.Tensor
    y: torch.Tensor
    rows: torch.Tensor | None  # None: every sample, in order
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.x) if self.rows is None else len(self.rows)


def source(dataset: Dataset) -> Source | None:
    """The tensors behind ``dataset`` (through any chain of ``Subset``), else None."""
    rows: torch.Tensor | None = None
    while isinstance(dataset, Subset):
        own = torch.as_tensor(dataset.indices, dtype=torch.long)
        rows = own if rows is None else own[rows]
        dataset = dataset.dataset
    if isinstance(dataset, InMemory):
        data = dataset.in_memory()
        return Source(data.x, data.y, rows, data.mean, data.std)
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        x, y = dataset.tensors
        return Source(x, y.long(), rows)
    return None


# device copies of in-memory data, per tensor object: made once per device, freed with it
_PLACED: weakref.WeakKeyDictionary[torch.Tensor, dict[torch.device, torch.Tensor]] = \
    weakref.WeakKeyDictionary()


def _placed(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if tensor.device == device:
        return tensor
    copies = _PLACED.setdefault(tensor, {})
    if device not in copies:
        copies[device] = tensor.to(device)
    return copies[device]


@dataclass(frozen=True)
class Order:
    """Which samples make which batch of one pass over a split."""

    shuffle: bool = False
    seed: int = 0
    batch_size: int | None = None
    max_batches: int | None = None
    limit: int | None = None  # only the first ``limit`` samples of the split
    rank: int = 0  # data-parallel shard: every ``world``-th batch, from ``rank``
    world: int = 1


def batches(task: Task, split: Split, device: torch.device, dtype: torch.dtype = torch.float32,
            order: Order = Order(), augment: torch.Generator | None = None) -> Iterator[Batch]:
    """One pass over ``split`` as batches on ``device`` (floating inputs in ``dtype``), in
    the order ``Task.loader`` gives for ``order``; ``augment``: the generator of the task's
    training augmentation (None: not augmented)."""
    data = source(getattr(task, split))
    aug = task.augment if augment is not None else None
    if data is None:
        yield from _loaded(task, split, device, dtype, order, aug, augment)
        return
    plan = _plan(len(data), task.batch_size, order)
    if not plan:
        return
    rows = torch.cat(plan)
    if data.rows is not None:
        rows = data.rows[rows]
    draws = _draws(aug, [len(b) for b in plan], augment, device)
    rows = rows.to(device, non_blocking=True)  # one copy of the epoch's order
    x, y = _placed(data.x, device), _placed(data.y, device)
    stats = None if data.mean is None or data.std is None else (
        _placed(data.mean, device), _placed(data.std, device))
    start = 0
    for i, size in enumerate(len(b) for b in plan):
        pick = rows[start:start + size]
        start += size
        xb = x[pick]
        if stats is not None:
            xb = normalize(xb, *stats)
        xb = xb.to(dtype) if xb.is_floating_point() else xb
        if draws is not None:
            xb = aug.apply(xb, draws[i])  # type: ignore[union-attr]
        elif aug is not None and augment is not None:
            xb = aug(xb, augment)
        yield xb, y[pick]


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``uint8`` images ``(..., C, H, W)`` -> float32 ``(x / 255 - mean) / std`` per channel
    (one fused multiply-add)."""
    scale = (1.0 / (255.0 * std))[:, None, None]  # (C, 1, 1)
    shift = (-mean / std)[:, None, None]
    return torch.addcmul(shift, images.to(torch.float32), scale)


def _plan(n: int, batch_size: int, order: Order) -> list[torch.Tensor]:
    """The sample indices of each batch this rank takes, as ``Task.loader``'s sampler draws
    them (a ``DataLoader`` draws its worker seed from the generator before the order)."""
    if order.limit is not None:
        n = min(n, order.limit)
    if order.shuffle:
        generator = torch.Generator().manual_seed(order.seed)
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        perm = torch.randperm(n, generator=generator)
    else:
        perm = torch.arange(n)
    chunks = list(perm.split(order.batch_size or batch_size))
    if order.world > 1:  # nasforge.run.distributed.DistContext.shard
        rounds = len(chunks) // order.world
        chunks = [chunks[r * order.world + order.rank] for r in range(rounds)]
    return chunks[:order.max_batches] if order.max_batches is not None else chunks


def _draws(aug: Augment | None, sizes: list[int], generator: torch.Generator | None,
           device: torch.device) -> list[torch.Tensor] | None:
    """An augmentation's random draws for every batch of the epoch, drawn now in batch
    order (the same numbers as batch by batch) and copied to the device at once, when it
    can draw ahead (``task.DrawAhead``)."""
    if not isinstance(aug, DrawAhead) or generator is None:
        return None
    draws = [aug.draw(size, generator) for size in sizes]
    return list(torch.cat(draws, 1).to(device, non_blocking=True).split(sizes, 1))


def _loaded(task: Task, split: Split, device: torch.device, dtype: torch.dtype, order: Order,
            aug: Augment | None, generator: torch.Generator | None) -> Iterator[Batch]:
    """Batches of a data set that is not in memory, through its DataLoader."""
    loader = task.loader(split, shuffle=order.shuffle, seed=order.seed,
                         batch_size=order.batch_size, limit=order.limit)
    pin = device.type == "cuda"
    for step, (x, y) in enumerate(_shard(loader, order.rank, order.world)):
        if order.max_batches is not None and step >= order.max_batches:
            return
        if aug is not None and generator is not None:
            x = aug(x, generator)
        if pin:
            x, y = x.pin_memory(), y.pin_memory()
        x = x.to(device, non_blocking=pin)
        yield (x.to(dtype) if x.is_floating_point() else x), y.to(device, non_blocking=pin)


def _shard(loader: Iterator[Batch] | torch.utils.data.DataLoader, rank: int, world: int
           ) -> Iterator[Batch]:
    """Every ``world``-th batch from ``rank``; the last incomplete round dropped, so every
    rank takes as many steps (``nasforge.run.distributed.DistContext.shard``)."""
    round_: list[Batch] = []
    for batch in loader:
        round_.append(batch)
        if len(round_) == world:
            yield round_[rank]
            round_ = []
