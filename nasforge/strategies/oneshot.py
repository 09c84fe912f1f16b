"""The one-shot strategy interface: train a supernet (``fit``, one epoch at a time, so a run
can checkpoint between epochs), then hand it to a pluggable selection.

A strategy declares its training step and its optimizers; the loop that runs them (batches on
the device, gradient averaging, clipping, metrics, compilation) is ``nasforge.trainer``'s, the
same for every strategy and for PT's fine-tuning between decisions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from nasforge.batches import Batch
from nasforge.run.distributed import SINGLE, DistContext
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.supernet import build_oneshot_supernet, check_has_supernet
from nasforge.supernet.base import Supernet
from nasforge.task import Shape, Split, Task
from nasforge.trainer import Phase, StepOutput, SupernetTrainer, Update


class OneShotStrategy(ABC):
    """Owns the supernet's training (weights and its own architecture parameters).

    Subclasses implement ``training_step`` (one batch: the architecture's own update, if
    any, then the loss of the weight update) and ``update`` (what the weight update steps),
    and may extend ``train_epoch`` / ``finetune_epoch`` (e.g. an epoch-wise schedule)."""

    epochs: int
    gated: bool = False  # trains the space's gated supernet (PGNAS) instead of the plain one
    uses_valid: bool = False  # each training step also takes a valid batch (bilevel: DARTS)
    max_batches: int | None = None

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.supernet: Supernet | None = None
        self.task: Task | None = None
        self.runtime = Runtime()
        self.dist: DistContext = SINGLE  # data-parallel group (nasforge.run.distributed)
        self.generator = torch.Generator().manual_seed(seed)  # training augmentation
        self._trainer: SupernetTrainer | None = None

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    def set_distributed(self, context: DistContext) -> None:
        """Train as one replica of a data-parallel group: this rank's shard of the batches,
        gradients averaged across ranks before each step."""
        self.dist = context
        if self._trainer is not None:
            self._trainer.dist = context

    def check_space(self) -> None:
        """Raise a ConfigError now if this strategy has no supernet for its space."""
        check_has_supernet(self.space, gated=self.gated)

    def supernet_options(self) -> dict[str, Any]:
        """Options of the supernet factory (e.g. PGNAS's gate init_p and tau); a checkpoint
        records them, so that loading it rebuilds the same supernet."""
        return {}

    def make_supernet(self, shape: Shape) -> Supernet:
        """The supernet this strategy trains: the space's registered supernet (its gated one
        when ``gated``)."""
        return build_oneshot_supernet(self.space, shape, gated=self.gated,
                                      **self.supernet_options())

    def setup(self, supernet: Supernet, task: Task, runtime: Runtime | torch.device) -> None:
        """Train ``supernet`` (already on the runtime's device and dtype) on ``task``."""
        self.supernet, self.task, self.runtime = supernet, task, Runtime.of(runtime)
        self._trainer = SupernetTrainer(supernet, task, self.runtime, self.dist)

    @property
    def trainer(self) -> SupernetTrainer:
        assert self._trainer is not None, "setup() first"
        return self._trainer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The supernet's forward as the training step runs it (compiled when asked)."""
        return self.trainer.forward(x)

    def batch_seed(self, split: Split, epoch: int) -> int:
        """The seed of the order of ``split``'s batches in ``epoch``."""
        del split
        return self.seed * 100_003 + epoch

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of supernet training; returns metrics for the run's history."""
        return self.trainer.epoch(self, epoch, "search")

    def finetune_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of weight-only training between selection decisions (DARTS-PT)."""
        return self.trainer.epoch(self, 10_000 + epoch, "finetune")

    @abstractmethod
    def training_step(self, batch: Batch, valid: Batch | None) -> StepOutput:
        """One batch: the strategy's own update (e.g. alpha on ``valid``), then the loss the
        weight update minimises."""

    @abstractmethod
    def update(self, phase: Phase) -> Update:
        """What the weight update of ``phase`` ("search" or "finetune") steps."""

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
