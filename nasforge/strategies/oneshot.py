"""The one-shot strategy interface: train a supernet (``fit``, one epoch at a time, so a run
can checkpoint between epochs), then hand it to a pluggable selection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from nasforge.distributed import SINGLE, DistContext
from nasforge.spaces.base import SearchSpace
from nasforge.supernet import build_oneshot_supernet, check_has_supernet
from nasforge.supernet.base import Supernet
from nasforge.task import Shape, Task


class OneShotStrategy(ABC):
    """Owns the supernet's training (weights and its own architecture parameters)."""

    epochs: int
    gated: bool = False  # trains the space's gated supernet (PGNAS) instead of the plain one

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.supernet: Supernet | None = None
        self.task: Task | None = None
        self.device = torch.device("cpu")
        self.dist: DistContext = SINGLE  # data-parallel group (nasforge.distributed)

    def set_distributed(self, context: DistContext) -> None:
        """Train as one replica of a data-parallel group: this rank's shard of the batches,
        gradients averaged across ranks before each step."""
        self.dist = context

    def check_space(self) -> None:
        """Raise a ConfigError now if this strategy has no supernet for its space."""
        check_has_supernet(self.space, gated=self.gated)

    def train_batches(self, seed: int, max_batches: int | None, generator: torch.Generator
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of (augmented) training batches on the device, shuffled by ``seed``:
        this rank's shard in a data-parallel group, at most ``max_batches``."""
        assert self.task is not None
        loader = self.task.loader("train", shuffle=True, seed=seed)
        for step, (x, y) in enumerate(self.dist.shard(loader)):
            if max_batches is not None and step >= max_batches:
                return
            if self.task.augment is not None:
                x = self.task.augment(x, generator)
            yield x.to(self.device), y.to(self.device)

    @contextmanager
    def epoch_rng(self, epoch: int) -> Iterator[None]:
        """Run an epoch on the global torch RNG seeded from (seed, epoch), restored after:
        dropout and noise inside the supernet repeat exactly, on resume too."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed * 100_003 + epoch)
            yield

    def supernet_options(self) -> dict[str, Any]:
        """Options of the supernet factory (e.g. PGNAS's gate init_p and tau); a checkpoint
        records them, so that loading it rebuilds the same supernet."""
        return {}

    def make_supernet(self, shape: Shape) -> Supernet:
        """The supernet this strategy trains: the space's registered supernet (its gated one
        when ``gated``)."""
        return build_oneshot_supernet(self.space, shape, gated=self.gated,
                                      **self.supernet_options())

    def setup(self, supernet: Supernet, task: Task, device: torch.device) -> None:
        self.supernet, self.task, self.device = supernet, task, device

    @abstractmethod
    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of supernet training; returns metrics for the run's history."""

    @abstractmethod
    def finetune_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of weight-only training between selection decisions."""

    @abstractmethod
    def op_strengths(self) -> torch.Tensor:
        """(edges, ops) strengths for magnitude-based selection (e.g. softmax(alpha))."""

    def strengths_caption(self) -> str | None:
        """What ``op_strengths`` are, as the report's heatmap caption; None when they are no
        learned architecture weights (e.g. SPOS's path-sampling counts), so no heatmap is
        drawn."""
        return None

    @abstractmethod
    def state_dict(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
