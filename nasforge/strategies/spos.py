"""Single Path One-Shot supernet training (Guo et al., ECCV 2020)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.batches import Batch
from nasforge.errors import ConfigError
from nasforge.registry import STRATEGIES
from nasforge.run.distributed import DistContext
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet.base import Supernet
from nasforge.task import Task
from nasforge.trainer import Phase, StepOutput, Update


@STRATEGIES.register("spos")
class SinglePathTraining(OneShotStrategy):
    """Supernet training with uniform single-path sampling (Guo et al., ECCV 2020, Sec. 3.2,
    Eq. 6-7 with the uniform prior Gamma(A)): every step draws one architecture (each
    decision independently and uniformly: ``space.sample``), runs forward and backward
    through that path only, and updates only its weights: as in the official code, a
    parameter whose gradient is all zero (off the path, or on it but cut off from the output
    by a ``none`` edge) is left alone by SGD, its momentum and its weight decay.

    ``sampling="flops_bins"`` is the authors' code's variant: a FLOPs bin uniformly among
    ``flops_bins`` equal bins between the smallest and largest FLOPs of random paths,
    then paths until one falls in it (at most 100 tries), which spreads training evenly
    over model sizes rather than over paths (``flops_probe`` random paths set the bins).

    Defaults are the official code's: SGD lr 0.5 decayed linearly to 0 over all steps,
    momentum 0.9, weight decay 4e-5 on weights with more than one dimension only, label
    smoothing 0.1. Architecture selection is a separate step (``selection: evolution``).
    Note: ``max_batches`` caps the steps per epoch for small runs; the op-strength "heatmap"
    of a SPOS run is the fraction of steps each op was sampled (uniform up to noise).
    Data-parallel (nasforge.run.distributed): ``path_per_rank="shared"`` samples the same path on
    every rank (same seed), "independent" a different one per rank: an op sampled on some
    ranks is updated with the average over all (zero from the others), one sampled on none
    is left alone.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, epochs: int = 120, lr: float = 0.5,
                 momentum: float = 0.9, weight_decay: float = 4e-5,
                 label_smoothing: float = 0.1, sampling: Literal["uniform", "flops_bins"] =
                 "uniform", flops_bins: int = 10, flops_probe: int = 1000,
                 finetune_lr: float = 0.05,
                 grad_clip: float | None = None, max_batches: int | None = None,
                 path_per_rank: Literal["shared", "independent"] = "shared") -> None:
        super().__init__(space, seed)
        self.path_per_rank = path_per_rank
        if epochs < 0 or lr <= 0 or sampling not in ("uniform", "flops_bins") or flops_bins < 1:
            raise ConfigError("spos needs epochs >= 0, lr > 0, sampling 'uniform' or "
                              "'flops_bins' and flops_bins >= 1")
        self.epochs, self.lr, self.momentum, self.weight_decay = epochs, lr, momentum, \
            weight_decay
        self.label_smoothing, self.sampling, self.flops_bins = label_smoothing, sampling, \
            flops_bins
        self.flops_probe = flops_probe
        self.finetune_lr, self.grad_clip, self.max_batches = finetune_lr, grad_clip, max_batches
        self.rng = np.random.default_rng(seed)
        self.flops_cache: dict[str, int] = {}
        self.flops_edges: np.ndarray | None = None

    def set_distributed(self, context: DistContext) -> None:
        super().set_distributed(context)
        if self.path_per_rank == "independent":  # each rank its own stream of paths
            self.rng = np.random.default_rng([self.seed, context.rank])

    def setup(self, supernet: Supernet, task: Task, runtime: Runtime | torch.device) -> None:
        super().setup(supernet, task, runtime)
        self.optimizer = torch.optim.SGD(_param_groups(supernet, self.weight_decay), lr=self.lr,
                                         momentum=self.momentum,
                                         **self.runtime.optimizer_options())
        total = max(1, self.epochs * self._steps_per_epoch())
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: max(0.0, 1.0 - step / total))
        self.ft_optimizer: torch.optim.Optimizer | None = None
        self.counts = torch.zeros(supernet.alpha_shape)  # on the host: counted from the paths

    def _steps_per_epoch(self) -> int:
        assert self.task is not None
        steps = len(self.task.loader("train")) // self.dist.world  # this rank's shard
        return steps if self.max_batches is None else min(steps, self.max_batches)

    def sample_path(self) -> Architecture:
        if self.sampling == "uniform":
            return self.space.sample(self.rng)
        return self._sample_in_flops_bin()

    def _sample_in_flops_bin(self) -> Architecture:
        edges = self._bin_edges()
        b = int(self.rng.integers(self.flops_bins))
        arch = self.space.sample(self.rng)
        for _ in range(100):
            if edges[b] <= self._flops(arch) <= edges[b + 1]:
                break
            arch = self.space.sample(self.rng)
        return arch

    def _bin_edges(self) -> np.ndarray:
        if self.flops_edges is None:
            probe = np.random.default_rng(self.seed + 1)  # not the training stream
            flops = [self._flops(self.space.sample(probe)) for _ in range(self.flops_probe)]
            self.flops_edges = np.linspace(min(flops), max(flops), self.flops_bins + 1)
        return self.flops_edges

    def _flops(self, arch: Architecture) -> int:
        key = self.space.key(arch)
        if key not in self.flops_cache:
            assert self.task is not None
            self.flops_cache[key] = self.space.cost(arch, self.task.shape).flops
        return self.flops_cache[key]

    def train_epoch(self, epoch: int) -> dict[str, float]:
        self.counts.zero_()
        metrics = super().train_epoch(epoch)
        return {**metrics, "lr": self.optimizer.param_groups[0]["lr"]}

    def finetune_epoch(self, epoch: int) -> dict[str, float]:
        """More single-path training at ``finetune_lr`` (for selections that fine-tune)."""
        metrics = super().finetune_epoch(epoch)
        assert self.ft_optimizer is not None
        return {**metrics, "lr": self.ft_optimizer.param_groups[0]["lr"]}

    def _finetune_optimizer(self) -> torch.optim.Optimizer:
        assert self.supernet is not None
        return torch.optim.SGD(_param_groups(self.supernet, self.weight_decay),
                               lr=self.finetune_lr, momentum=self.momentum,
                               **self.runtime.optimizer_options())

    def training_step(self, batch: Batch, valid: Batch | None) -> StepOutput:
        """Eq. 6-7: a path drawn from the prior, then the loss of that path alone."""
        x, y = batch
        self._set_path(self.sample_path())
        logits = self.forward(x)
        loss = nn.functional.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        return StepOutput(loss, logits, y)

    def update(self, phase: Phase) -> Update:
        """The weights of the path (ops off the path get no gradient, so SGD, momentum and
        weight decay leave them untouched); the linear schedule steps every step."""
        assert self.supernet is not None
        if phase == "finetune":  # more single-path training at ``finetune_lr``
            if self.ft_optimizer is None:
                self.ft_optimizer = self._finetune_optimizer()
            optimizer, schedulers = self.ft_optimizer, []
        else:
            optimizer, schedulers = self.optimizer, [self.scheduler]
        return Update([optimizer], list(self.supernet.parameters()), grad_clip=self.grad_clip,
                      schedulers=schedulers, zero_fill=self.path_per_rank == "independent",
                      skip_zero_grads=True)

    def _set_path(self, arch: Architecture) -> None:
        assert self.supernet is not None
        self.supernet.set_path(arch)
        for e, i in self.supernet.path_indices(arch).items():  # counted on the host
            self.counts[e, i] += 1.0

    def op_strengths(self) -> torch.Tensor:
        """How often each op was on the sampled path this epoch (rows sum to 1)."""
        total = self.counts.sum(1, keepdim=True)
        if float(total.sum()) == 0:
            assert self.supernet is not None
            valid = self.supernet.arch_state.valid
            return valid / valid.sum(1, keepdim=True)
        return self.counts / total.clamp_min(1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ft_optimizer": None if self.ft_optimizer is None else self.ft_optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "counts": self.counts.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if tuple(state["counts"].shape) != tuple(self.counts.shape):
            raise ConfigError(f"checkpoint has {tuple(state['counts'].shape)} path choices, "
                              f"this supernet {tuple(self.counts.shape)}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["ft_optimizer"] is not None:
            self.ft_optimizer = self._finetune_optimizer()
            self.ft_optimizer.load_state_dict(state["ft_optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self.counts = state["counts"].clone()


def _param_groups(supernet: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weights with more than one dimension only (the official code's)."""
    params = [p for p in supernet.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
