"""The data a search runs on: train / valid / test splits, input shape, number of classes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from nasforge.errors import ConfigError
from nasforge.preprocessing import Preprocessing

Split = Literal["train", "valid", "test"]
# A batch-level augmentation: (inputs, generator) -> inputs, applied to training batches only.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class InMemoryData(NamedTuple):
    """The samples of a data set held in memory: ``x`` (``uint8`` images, normalised per
    channel with ``mean`` / ``std`` when read, or ready inputs when those are None) and the
    labels ``y``."""

    x: torch.Tensor
    y: torch.Tensor
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None


@runtime_checkable
class InMemory(Protocol):
    """A data set whose samples are tensors in memory (``nasforge.batches`` keeps them on
    the model's device and cuts batches there)."""

    def in_memory(self) -> InMemoryData: ...


@runtime_checkable
class DrawAhead(Protocol):
    """An augmentation that can draw its randomness ahead (a whole epoch at once, on the
    host, in the order batch-by-batch calls would) and apply it later on the device:
    ``draw(n, generator)`` -> a float tensor ``(k, n)``; ``apply(x, draws)``."""

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor: ...

    def apply(self, x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class Shape:
    """What a search space needs to know to build a network for a task."""

    input_shape: tuple[int, ...]  # (channels, length) or (channels, height, width)
    num_classes: int

    @property
    def dim(self) -> int:
        return len(self.input_shape) - 1


@dataclass
class Task:
    """Search splits: ``train`` trains weights, ``valid`` scores architectures (the search
    signal); ``test`` is held out for reporting only."""

    name: str
    train: Dataset
    valid: Dataset
    test: Dataset
    shape: Shape
    batch_size: int = 128
    augment: Augment | None = None
    metric: str = "accuracy"
    info: dict[str, object] = field(default_factory=dict)
    # how raw samples became these inputs (None: they are used as given); saved with models
    preprocessing: Preprocessing | None = None

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or self.batch_size < 1:
            raise ConfigError(f"task.batch_size must be a positive integer, got "
                              f"{self.batch_size!r}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.shape.input_shape

    @property
    def num_classes(self) -> int:
        return self.shape.num_classes

    @property
    def preparation(self) -> Preprocessing:
        """The task's ``preprocessing``, or the identity on its input shape."""
        return self.preprocessing or Preprocessing(self.input_shape)

    def loader(self, split: Split, *, shuffle: bool = False, seed: int = 0,
               batch_size: int | None = None, limit: int | None = None) -> DataLoader:
        """A loader over one split; ``limit`` keeps only the first ``limit`` samples."""
        data: Dataset = getattr(self, split)
        if limit is not None and limit < len(data):  # type: ignore[arg-type]
            data = Subset(data, range(limit))
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(data, batch_size=batch_size or self.batch_size, shuffle=shuffle,
                          generator=generator if shuffle else None, drop_last=False)
