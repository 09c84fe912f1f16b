"""Inherited-weight evaluation: a candidate is scored as the path it is inside a trained
supernet, after recomputing that path's batch-norm statistics (SPOS, Guo et al., ECCV 2020,
Sec. 3.5: "before the inference of an architecture, the statistics of all the Batch
Normalization operations are recalculated on a random subset of training data")."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result
from nasforge.nn.counting import Cost
from nasforge.registry import EVALUATORS
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.supernet.base import Supernet
from nasforge.supernet.checkpoint import load_supernet
from nasforge.task import Task
from nasforge.training import split_batches

Batch = tuple[torch.Tensor, torch.Tensor]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[Batch]) -> None:
    """Reset every batch norm's running statistics and recompute them as the exact average
    over ``batches`` (momentum None = cumulative average), forward passes in train mode."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        for x, _ in batches:
            model(x)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum


@torch.no_grad()
def accuracy(model: nn.Module, batches: Iterable[Batch]) -> float:
    """Accuracy (%) in eval mode; the count stays on the device until the end."""
    model.eval()
    correct: torch.Tensor | int = 0
    count = 0
    for x, y in batches:
        correct = correct + (model(x).argmax(1) == y).sum()
        count += len(y)
    return 100.0 * float(correct) / max(count, 1)


class SupernetEvaluator(Evaluator):
    """Scores an architecture with the weights it inherits from ``supernet``: set the path,
    recalibrate batch norm on ``recalibration_batches`` training batches (the same batches
    for every candidate, so scores are comparable and reproducible; 0 = keep the shared
    statistics, the ablation), then accuracy on the valid split (``valid_batches`` caps it).
    Batches are loaded once and kept on the device, so a candidate costs only its forward
    passes. ``cost`` is the measured seconds; params/FLOPs are the standalone network's.

    Defaults: SPOS's code recalibrates on 200 batches of 128 ImageNet images (~25k); on small
    tasks 20 batches cover the training split's statistics well (benchmarks/spos_bn.py).
    """

    def __init__(self, supernet: Supernet, space: SearchSpace, task: Task,
                 device: Runtime | torch.device, recalibration_batches: int = 20,
                 valid_batches: int | None = None, seed: int = 0) -> None:
        if recalibration_batches < 0 or (valid_batches is not None and valid_batches < 1):
            raise ConfigError("recalibration_batches must be >= 0 and valid_batches >= 1")
        self.supernet, self.space, self.task = supernet, space, task
        self.runtime = Runtime.of(device)
        self.recalibration_batches, self.valid_batches = recalibration_batches, valid_batches
        self.seed = seed
        self._calibration: list[Batch] | None = None
        self._valid: list[Batch] | None = None
        self._costs: dict[str, Cost] = {}

    def evaluate(self, arch: Architecture) -> Result:
        start = time.perf_counter()
        self.supernet.set_path(self.space.validate(arch))
        if self.recalibration_batches:
            recalibrate_bn(self.supernet, self.calibration_batches())
        valid = accuracy(self.supernet, self.valid_data())
        cost = self.cost(arch)
        return Result(metrics={OBJECTIVE: valid}, cost=time.perf_counter() - start,
                      params=cost.params, flops=cost.flops)

    def calibration_batches(self) -> list[Batch]:
        if self._calibration is None:
            self._calibration = list(split_batches(
                self.task, "train", self.runtime, shuffle=True, seed=self.seed + 7_919,
                max_batches=self.recalibration_batches))
        return self._calibration

    def valid_data(self) -> list[Batch]:
        if self._valid is None:
            # in a fixed random order: a capped split is then a random subset of it
            self._valid = list(split_batches(
                self.task, "valid", self.runtime, shuffle=True, seed=self.seed + 104_729,
                max_batches=self.valid_batches))
        return self._valid

    def cost(self, arch: Architecture) -> Cost:
        key = self.space.key(arch)
        if key not in self._costs:
            self._costs[key] = self.space.cost(arch, self.task.shape)
        return self._costs[key]

    def describe(self) -> dict[str, object]:
        return {"evaluator": "supernet", "recalibration_batches": self.recalibration_batches,
                "valid_batches": self.valid_batches}


@EVALUATORS.register("supernet")
def supernet_evaluator(space: SearchSpace, task: Task, device: torch.device, checkpoint: str,
                       recalibration_batches: int = 20, valid_batches: int | None = None,
                       seed: int = 0, runtime: Runtime | None = None) -> SupernetEvaluator:
    """Inherited-weight evaluation with the supernet a one-shot run trained: ``checkpoint``
    is that run's directory or its ``checkpoint.pt`` (e.g. to search one trained SPOS
    supernet again under other constraints, with any ask/tell strategy)."""
    if task is None:
        raise ConfigError("the supernet evaluator needs a task section")
    where = runtime or Runtime.of(device)
    supernet = load_supernet(Path(checkpoint), space, task.shape, where)
    return SupernetEvaluator(supernet, space, task, where, recalibration_batches,
                             valid_batches, seed)
