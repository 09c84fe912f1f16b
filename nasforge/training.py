"""Training and evaluation loops: device-agnostic, no globals, reproducible from a seed."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.utils.data import DataLoader

from nasforge.errors import TrialFailed
from nasforge.progress import Progress
from nasforge.task import Augment, Split, Task


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (e.g. weight initialisation) from a fixed seed without touching the
    caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                device: torch.device, *, augment: Augment | None = None,
                generator: torch.Generator | None = None, grad_clip: float | None = None,
                label_smoothing: float = 0.0, max_batches: int | None = None) -> float:
    """One pass over ``loader``; returns the mean training loss. A non-finite loss raises
    TrialFailed, so a diverging candidate is marked failed instead of poisoning the search."""
    model.train()
    total, count = 0.0, 0
    for step, (x, y) in enumerate(loader):
        if max_batches is not None and step >= max_batches:
            break
        if augment is not None:
            x = augment(x, generator or torch.Generator())
        x, y = x.to(device), y.to(device)
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=label_smoothing)
        if not torch.isfinite(loss):
            raise TrialFailed(f"non-finite training loss ({loss.item()}) at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device,
             max_batches: int | None = None) -> tuple[float, float]:
    """Accuracy (%) and mean cross-entropy of ``model`` on ``loader``, in eval mode."""
    model.eval()
    correct, loss, count = 0, 0.0, 0
    for step, (x, y) in enumerate(loader):
        if max_batches is not None and step >= max_batches:
            break
        x, y = x.to(device), y.to(device)
        logits = model(x)  # (batch, classes)
        loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    if count == 0:
        return math.nan, math.nan
    return 100.0 * correct / count, loss / count


EVAL_BATCH = 512  # evaluation keeps no activations for backward: larger batches, fewer calls


def eval_loader(task: Task, split: Split) -> DataLoader:
    """A loader for scoring ``split``: in order, in batches of at least ``EVAL_BATCH``."""
    return task.loader(split, batch_size=max(task.batch_size, EVAL_BATCH))


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


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr,
                                weight_decay=settings.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           weight_decay=settings.weight_decay, nesterov=settings.momentum > 0)


def fit(model: nn.Module, task: Task, settings: TrainSettings, device: torch.device, *,
        seed: int = 0, progress: bool | None = False, desc: str = "train") -> FitHistory:
    """Train ``model`` on ``task.train`` for ``settings.epochs``, scoring on ``task.valid``
    after each epoch (``progress``: see ``nasforge.progress``)."""
    model.to(device)
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(settings.epochs, 1))
    generator = torch.Generator().manual_seed(seed)
    history = FitHistory()
    start = time.perf_counter()
    with Progress(desc, settings.epochs, unit="epoch", progress=progress) as bar:
        for epoch in range(settings.epochs):
            loader = task.loader("train", shuffle=True, seed=seed * 1000 + epoch)
            history.train_loss.append(train_epoch(
                model, loader, optimizer, device, augment=task.augment, generator=generator,
                grad_clip=settings.grad_clip, label_smoothing=settings.label_smoothing,
                max_batches=settings.max_batches,
            ))
            scheduler.step()
            note = f"epoch {epoch + 1}: loss {history.train_loss[-1]:.3f}"
            if settings.valid_epochs is None or settings.epochs - epoch <= settings.valid_epochs:
                history.valid_acc.append(evaluate(model, eval_loader(task, "valid"), device)[0])
                note += f" valid_acc {history.valid_acc[-1]:.2f}"
            bar.advance(1, note)
    history.seconds = time.perf_counter() - start
    return history
