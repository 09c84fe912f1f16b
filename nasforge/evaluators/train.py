"""Train each candidate from scratch on the task and score it on the validation split."""

from __future__ import annotations

import dataclasses
import time
import zlib
from typing import Any, Literal, Protocol, runtime_checkable

import torch

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result
from nasforge.nn.counting import measure
from nasforge.registry import EVALUATORS
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.task import Task
from nasforge.training import TrainSettings, eval_batches, evaluate, fit, seeded


def trial_seed(seed: int, arch: Architecture) -> int:
    """A per-architecture seed: the same run seed and architecture always train alike, so a
    resumed run reproduces an uninterrupted one."""
    return (seed * 1_000_003 + zlib.crc32(arch.key().encode())) % 2**31


@runtime_checkable
class ChoosesTraining(Protocol):
    """A space whose architectures choose some of their own training settings (the macro
    space's learning-rate token, Zoph & Le)."""

    def training_overrides(self, arch: Architecture) -> dict[str, Any]: ...


@EVALUATORS.register("train")
class TrainEvaluator(Evaluator):
    """Builds the standalone network, trains it from scratch for ``epochs`` on the train split,
    and reports validation accuracy (the search signal) and test accuracy (reporting only).
    ``cost`` is the measured wall time in seconds. ``valid_epochs`` scores the validation
    split only in the last that many epochs (``None``: after every epoch; the reward
    ``valid_acc_max5`` takes the best of the last five scored)."""

    def __init__(self, space: SearchSpace, task: Task | None, seed: int = 0,
                 device: torch.device | None = None, runtime: Runtime | None = None,
                 epochs: int = 5, lr: float = 0.1,
                 momentum: float = 0.9, weight_decay: float = 5e-4,
                 optimizer: Literal["sgd", "adam"] = "sgd", grad_clip: float | None = 5.0,
                 label_smoothing: float = 0.0, max_batches: int | None = None,
                 valid_epochs: int | None = None, report_test: bool = True) -> None:
        if task is None:
            raise ConfigError("the train evaluator needs a task (config key 'task')")
        if epochs <= 0:
            raise ConfigError(f"evaluator.epochs must be positive, got {epochs}")
        if not lr > 0 or momentum < 0 or weight_decay < 0:
            raise ConfigError("evaluator.lr must be > 0, momentum and weight_decay >= 0; got "
                              f"lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        if valid_epochs is not None and valid_epochs <= 0:
            raise ConfigError(f"evaluator.valid_epochs must be positive, got {valid_epochs}")
        self.space, self.task, self.seed = space, task, seed
        self.runtime = runtime or Runtime.of(device)  # device alone: float32, eager
        self.settings = TrainSettings(
            epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
            optimizer=optimizer, grad_clip=grad_clip, label_smoothing=label_smoothing,
            max_batches=max_batches, valid_epochs=valid_epochs,
        )
        self.report_test = report_test

    def evaluate(self, arch: Architecture) -> Result:
        start = time.perf_counter()
        seed = trial_seed(self.seed, arch)
        with seeded(seed):
            model = self.space.build(arch, self.task.shape)
        cost = measure(model, self.task.input_shape)
        history = fit(model, self.task, self._settings_for(arch), self.runtime, seed=seed,
                      progress=self.progress, desc="train from scratch")
        metrics = {OBJECTIVE: history.valid_acc[-1], "train_loss": history.train_loss[-1],
                   # Zoph & Le's CIFAR reward: the best valid accuracy of the last 5 epochs
                   "valid_acc_max5": max(history.valid_acc[-5:])}
        if self.report_test:
            metrics["test_acc"] = evaluate(model, eval_batches(self.task, "test", self.runtime))[0]
        return Result(metrics=metrics, cost=time.perf_counter() - start,
                      params=cost.params, flops=cost.flops)

    def _settings_for(self, arch: Architecture) -> TrainSettings:
        """The training settings, with what the architecture itself chose (e.g. the
        learning-rate token of the macro space: ``space.training_overrides``)."""
        chosen = self.space.training_overrides(arch) if isinstance(self.space, ChoosesTraining) \
            else {}
        return dataclasses.replace(self.settings, **chosen) if chosen else self.settings

    def describe(self) -> dict[str, object]:
        return {"evaluator": "train", "task": self.task.name, **vars(self.settings)}
