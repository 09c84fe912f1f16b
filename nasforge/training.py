"""Training and evaluation loops: device-agnostic, no globals, reproducible from a seed."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.utils.data import DataLoader

from nasforge.batches import Batch, Order, batches
from nasforge.nn.counting import placement
from nasforge.progress import Progress
from nasforge.runtime import Runtime
from nasforge.task import Split, Task
from nasforge.trainer import StepOutput, Update, check_finite, run_epoch, with_autocast


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (e.g. weight initialisation) from a fixed seed without touching the
    caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_epoch(model: nn.Module, batches: Iterable[Batch], optimizer: torch.optim.Optimizer,
                *, grad_clip: float | None = None, label_smoothing: float = 0.0,
                runtime: Runtime | None = None) -> float:
    """One pass over ``batches`` (on the model's device: ``split_batches``) through the one
    training loop (``nasforge.trainer``); returns the mean training loss. A non-finite loss
    raises TrialFailed (checked once per epoch: the loop never waits for the device), so a
    diverging candidate is marked failed instead of poisoning the search."""
    model.train()

    def step(batch: Batch, _: Batch | None) -> StepOutput:
        x, y = batch
        logits = model(x)
        return StepOutput(nn.functional.cross_entropy(logits, y, label_smoothing=label_smoothing),
                          logits, y)

    update = Update([optimizer], list(model.parameters()), grad_clip=grad_clip)
    metrics = run_epoch(with_autocast(step, runtime or Runtime()), batches, update)
    check_finite(metrics, "this epoch")
    return metrics["train_loss"]


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], device: torch.device | None = None,
             max_batches: int | None = None) -> tuple[float, float]:
    """Accuracy (%) and mean cross-entropy of ``model`` on ``batches``, in eval mode. Batches
    not on the model's device (e.g. from a ``DataLoader``) are moved there; the sums stay on
    the device until the end."""
    model.eval()
    where, dtype = placement(model)
    correct, loss, count = torch.zeros((), device=where), torch.zeros((), device=where), 0
    for step, (x, y) in enumerate(batches):
        if max_batches is not None and step >= max_batches:
            break
        x = x.to(device or where, dtype) if x.is_floating_point() else x.to(device or where)
        y = y.to(device or where)
        logits = model(x)  # (batch, classes)
        loss = loss + nn.functional.cross_entropy(logits.float(), y, reduction="sum").double()
        correct = correct + (logits.argmax(1) == y).sum()
        count += len(y)
    if count == 0:
        return math.nan, math.nan
    right, total = torch.stack([correct.double(), loss.double()]).tolist()
    return 100.0 * right / count, total / count


EVAL_BATCH = 512  # evaluation keeps no activations for backward: larger batches, fewer calls


def eval_loader(task: Task, split: Split) -> DataLoader:
    """A loader for scoring ``split``: in order, in batches of at least ``EVAL_BATCH``."""
    return task.loader(split, batch_size=max(task.batch_size, EVAL_BATCH))


def split_batches(task: Task, split: Split, runtime: Runtime, *, shuffle: bool = False,
                  seed: int = 0, batch_size: int | None = None, max_batches: int | None = None,
                  augment: torch.Generator | None = None) -> Iterator[Batch]:
    """``split``'s batches on the runtime's device, in its dtype (``nasforge.batches``)."""
    order = Order(shuffle=shuffle, seed=seed, batch_size=batch_size, max_batches=max_batches)
    return batches(task, split, runtime.device, runtime.dtype, order, augment=augment)


def eval_batches(task: Task, split: Split, runtime: Runtime) -> Iterator[Batch]:
    """``split`` for scoring: in order, in batches of at least ``EVAL_BATCH``."""
    return split_batches(task, split, runtime, batch_size=max(task.batch_size, EVAL_BATCH))


@dataclass(frozen=True)
class TrainSettings:
    """How a candidate is trained from scratch. Defaults: SGD with Nesterov momentum and a
    cosine schedule, as NB201 trains its cells (lr 0.1, wd 5e-4)."""

    epochs: int = 5
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    optimizer: Literal["sgd", "adam"] = "sgd"
    grad_clip: float | None = 5.0
    label_smoothing: float = 0.0
    max_batches: int | None = None  # per epoch; None = the whole split
    valid_epochs: int | None = None  # score valid only in the last k epochs; None = every one


@dataclass
class FitHistory:
    train_loss: list[float] = field(default_factory=list)
    valid_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0


def make_optimizer(model: nn.Module, settings: TrainSettings,
                   runtime: Runtime | None = None) -> torch.optim.Optimizer:
    fast = (runtime or Runtime()).optimizer_options()
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr,
                                weight_decay=settings.weight_decay, **fast)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           weight_decay=settings.weight_decay, nesterov=settings.momentum > 0,
                           **fast)


def fit(model: nn.Module, task: Task, settings: TrainSettings,
        runtime: Runtime | torch.device, *, seed: int = 0, progress: bool | None = False,
        desc: str = "train") -> FitHistory:
    """Train ``model`` on ``task.train`` for ``settings.epochs``, scoring on ``task.valid``
    after each epoch (``progress``: see ``nasforge.progress``). The model is placed on the
    runtime's device and dtype first."""
    runtime = Runtime.of(runtime)
    runtime.place(model)
    optimizer = make_optimizer(model, settings, runtime)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(settings.epochs, 1))
    generator = torch.Generator().manual_seed(seed)
    history = FitHistory()
    start = time.perf_counter()
    with Progress(desc, settings.epochs, unit="epoch", progress=progress) as bar:
        for epoch in range(settings.epochs):
            train = split_batches(task, "train", runtime, shuffle=True, seed=seed * 1000 + epoch,
                                  max_batches=settings.max_batches,
                                  augment=generator if task.augment is not None else None)
            history.train_loss.append(train_epoch(
                model, train, optimizer, grad_clip=settings.grad_clip,
                label_smoothing=settings.label_smoothing, runtime=runtime))
            scheduler.step()
            note = f"epoch {epoch + 1}: loss {history.train_loss[-1]:.3f}"
            if settings.valid_epochs is None or settings.epochs - epoch <= settings.valid_epochs:
                history.valid_acc.append(evaluate(model, eval_batches(task, "valid", runtime))[0])
                note += f" valid_acc {history.valid_acc[-1]:.2f}"
            bar.advance(1, note)
    history.seconds = time.perf_counter() - start
    return history
