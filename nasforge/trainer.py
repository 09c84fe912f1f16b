"""The one training loop: every network nasforge trains (a supernet under DARTS, fixed-alpha,
SPOS or PGNAS, PT's fine-tuning between decisions, a candidate trained from scratch) goes
through :func:`run_epoch`, so its fast path is written once:

- batches come from ``nasforge.batches`` (on the model's device, cut and augmented there);
- the loss, the accuracy and any per-step numbers are summed on the device and read once
  per epoch: the step itself never waits for the device (no ``.item()``, no ``.cpu()``);
- gradients are averaged across data-parallel ranks in one all-reduce, clipped, and every
  optimizer of the step is stepped (fused kernels on CUDA: ``Runtime.optimizer_options``);
- with ``Runtime.compile`` the model's forward is compiled once (``torch.compile``), a
  supernet in its static form so that one graph serves every path and mask.

A one-shot strategy declares what differs (NNI 3.0's one-shot modules are the model:
``nni/nas/oneshot/pytorch/differentiable.py``): ``training_step(batch, valid)`` (its own
architecture update first, e.g. DARTS's alpha step, then the weight loss) and ``update(phase)``
(the optimizers, parameters, clipping and per-step schedulers of the weight step);
:class:`SupernetTrainer` runs its epochs, seeded per epoch so a resumed run repeats them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from nasforge.batches import Batch, Order, batches
from nasforge.errors import TrialFailed
from nasforge.run.distributed import SINGLE, DistContext
from nasforge.runtime import Runtime
from nasforge.supernet.base import Supernet
from nasforge.task import Split, Task

Phase = str  # "search" (the strategy's epochs) or "finetune" (between PT's decisions)


@dataclass
class StepOutput:
    """What one training step computed: the loss the weight update minimises, the logits
    and labels (for the accuracy), per-sample-averaged extras (e.g. PGNAS's NLL) and
    values of which the epoch reports the last (e.g. its regulariser)."""

    loss: torch.Tensor
    logits: torch.Tensor
    y: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    latest: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Update:
    """How the weight step updates: ``optimizers`` (zeroed before and stepped after the
    backward pass), ``params`` (averaged across ranks, then clipped to ``grad_clip``), the
    ``schedulers`` stepped after every step, whether a parameter without a gradient
    counts as a zero one in the average (``zero_fill``: paths differ between ranks), and
    whether a parameter whose gradient is exactly zero is left alone by the optimizers, as
    if it had none (``skip_zero_grads``: the official SPOS code's rule, here on the device)."""

    optimizers: Sequence[torch.optim.Optimizer]
    params: Sequence[nn.Parameter]
    grad_clip: float | None = None
    schedulers: Sequence[torch.optim.lr_scheduler.LRScheduler] = ()
    zero_fill: bool = False
    skip_zero_grads: bool = False  # SPOS: a parameter whose gradient is all zero stays put


class Meter:
    """Sums of one epoch's numbers, kept on the device and read once at the end."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.latest: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, out: StepOutput) -> None:
        n = len(out.y)
        self.count += n
        values = {"train_loss": out.loss, **out.extras}
        for key, value in values.items():
            term = value.detach().double() * n
            self.sums[key] = term if key not in self.sums else self.sums[key] + term
        correct = (out.logits.detach().argmax(1) == out.y).sum()
        self.sums["correct"] = correct if "correct" not in self.sums else \
            self.sums["correct"] + correct
        self.latest.update({k: v.detach() for k, v in out.latest.items()})

    def result(self) -> dict[str, float]:
        """The epoch's means (one transfer from the device for all of them)."""
        keys = list(self.sums) + list(self.latest)
        if not keys:
            return {"train_loss": 0.0, "train_acc": 0.0}
        values = torch.stack([self.sums[k].double() for k in self.sums]
                             + [self.latest[k].double() for k in self.latest]).tolist()
        got = dict(zip(keys, values, strict=True))
        count = max(self.count, 1)
        out = {k: got[k] / count for k in self.sums if k != "correct"}
        out["train_acc"] = 100.0 * got["correct"] / count
        out.update({k: got[k] for k in self.latest})
        return out


def train_step(step: Callable[[Batch, Batch | None], StepOutput], batch: Batch,
               valid: Batch | None, update: Update, *, dist: DistContext = SINGLE,
               after_backward: Callable[[], None] | None = None) -> StepOutput:
    """One step: the step's loss, backward, ``after_backward`` (a static supernet drops the
    gradients of the ops its path does not use), the rank average, clipping, the optimizers
    and per-step schedulers. Nothing here waits for the device."""
    out = step(batch, valid)
    for optimizer in update.optimizers:
        optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    if after_backward is not None:
        after_backward()
    dist.average_gradients(update.params, zero_fill=update.zero_fill)
    if update.grad_clip is not None:
        nn.utils.clip_grad_norm_(update.params, update.grad_clip)
    if update.skip_zero_grads:
        _step_keeping_zero_grad_params(update)
    else:
        for optimizer in update.optimizers:
            optimizer.step()
    for scheduler in update.schedulers:
        scheduler.step()
    return out


@torch.no_grad()
def _step_keeping_zero_grad_params(update: Update) -> None:
    """Step the optimizers, then put back every parameter whose gradient was exactly zero,
    and its optimizer state (momentum), as they were: the official SPOS code sets such
    gradients to None first (``if p.grad.sum() == 0: p.grad = None``), which reads every
    gradient on the host; here the choice is made on the device (a 0/1 weight per
    parameter; ``lerp`` with weight 0 or 1 returns exactly one side)."""
    params: list[torch.Tensor] = [p for p in update.params if p.grad is not None]
    if not params:
        return
    norms = torch._foreach_norm([p.grad for p in params])  # type: ignore[misc]
    used = [(n != 0).to(p.dtype) for n, p in zip(norms, params, strict=True)]
    held: list[tuple[torch.Tensor, torch.Tensor]] = list(zip(params, used, strict=True))
    for optimizer in update.optimizers:
        for p, u in zip(params, used, strict=True):
            for value in optimizer.state.get(p, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == p.shape:
                    held.append((value, u))
    tensors = [t for t, _ in held]
    before = [t.clone() for t in tensors]
    for optimizer in update.optimizers:
        optimizer.step()
    weights: list[Any] = [u for _, u in held]
    torch._foreach_lerp_(before, tensors, weights)  # the new value where used, else the old
    torch._foreach_copy_(tensors, before)


def run_epoch(step: Callable[[Batch, Batch | None], StepOutput], train: Iterable[Batch],
              update: Update, *, valid: Iterator[Batch] | None = None,
              dist: DistContext = SINGLE,
              after_backward: Callable[[], None] | None = None) -> dict[str, float]:
    """One epoch of :func:`train_step` over the training batches (each with the next
    ``valid`` batch when given). Returns the epoch's mean loss and accuracy (%) and the
    step's extras, read from the device once."""
    meter = Meter()
    for batch in train:
        meter.add(train_step(step, batch, next(valid) if valid is not None else None, update,
                             dist=dist, after_backward=after_backward))
    return meter.result()


def check_finite(metrics: dict[str, float], where: str) -> None:
    """A diverged training (non-finite mean loss) raises TrialFailed, so the search marks
    the candidate failed instead of ranking it."""
    loss = metrics.get("train_loss", 0.0)
    if not math.isfinite(loss):
        raise TrialFailed(f"non-finite training loss ({loss}) in {where}")


class Steps(Protocol):
    """What a one-shot strategy gives :class:`SupernetTrainer` (OneShotStrategy has it)."""

    seed: int
    max_batches: int | None
    generator: torch.Generator
    uses_valid: bool

    def batch_seed(self, split: Split, epoch: int) -> int: ...

    def training_step(self, batch: Batch, valid: Batch | None) -> StepOutput: ...

    def update(self, phase: Phase) -> Update: ...


class SupernetTrainer:
    """Runs a one-shot strategy's epochs on its supernet: seeded batches on the device, the
    strategy's steps, the replicas' buffers averaged at the end of the epoch."""

    def __init__(self, supernet: nn.Module, task: Task, runtime: Runtime,
                 dist: DistContext = SINGLE) -> None:
        self.supernet, self.task, self.runtime, self.dist = supernet, task, runtime, dist
        self.forward: Callable[[torch.Tensor], torch.Tensor] = compiled(supernet, runtime)
        self.after_backward: Callable[[], None] | None = None
        if isinstance(supernet, Supernet) and supernet.arch_state.static:
            self.after_backward = supernet.release_unused_grads

    def batches(self, steps: Steps, split: Split, epoch: int, augment: bool
                ) -> Iterator[Batch]:
        order = Order(shuffle=True, seed=steps.batch_seed(split, epoch),
                      max_batches=steps.max_batches, rank=self.dist.rank, world=self.dist.world)
        return batches(self.task, split, self.runtime.device, self.runtime.dtype, order,
                       augment=steps.generator if augment else None)

    def endless_valid(self, steps: Steps, epoch: int) -> Iterator[Batch]:
        """Valid batches for a bilevel step, restarting (reshuffled) when the split is
        shorter than the training split."""
        for rounds in range(1_000_000):
            yield from self.batches(steps, "valid", epoch * 1000 + rounds, augment=False)

    def step(self, steps: Steps, batch: Batch, valid: Batch | None, phase: Phase
             ) -> StepOutput:
        """One training step of ``steps`` (the epoch's loop runs exactly this)."""
        return train_step(with_autocast(steps.training_step, self.runtime), batch, valid,
                          steps.update(phase), dist=self.dist,
                          after_backward=self.after_backward)

    def epoch(self, steps: Steps, epoch: int, phase: Phase) -> dict[str, float]:
        self.supernet.train()
        with epoch_rng(steps.seed, epoch, self.runtime.device):  # dropout, noise repeat
            valid = self.endless_valid(steps, epoch) if steps.uses_valid else None
            metrics = run_epoch(with_autocast(steps.training_step, self.runtime),
                                self.batches(steps, "train", epoch, True),
                                steps.update(phase), valid=valid, dist=self.dist,
                                after_backward=self.after_backward)
        self.dist.average_buffers(self.supernet)
        return metrics


def with_autocast(step: Callable[[Batch, Batch | None], StepOutput], runtime: Runtime
                  ) -> Callable[[Batch, Batch | None], StepOutput]:
    """``step`` under the runtime's mixed precision (unchanged without one)."""
    if runtime.autocast_dtype is None:
        return step

    def mixed(batch: Batch, valid: Batch | None) -> StepOutput:
        with runtime.autocast():
            return step(batch, valid)
    return mixed


def compiled(model: nn.Module, runtime: Runtime) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model``'s forward, compiled when the runtime says so (a supernet switches to its
    static form first: one graph for every path, mask and fixed edge)."""
    if not runtime.compile:
        return model
    if isinstance(model, Supernet):
        model.settle_layout()
        if model.has_static_form:
            model.set_static(True)
    return torch.compile(model, mode=runtime.compile_mode,  # type: ignore[return-value]
                         backend=runtime.compile_backend)


@contextmanager
def epoch_rng(seed: int, epoch: int, device: torch.device) -> Iterator[None]:
    """Run an epoch on the global torch RNG seeded from (seed, epoch), restored after:
    dropout and noise inside the network repeat exactly, on resume too."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed * 100_003 + epoch)
        yield
