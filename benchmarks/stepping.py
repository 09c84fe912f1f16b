"""Timing and memory of training steps for the speed benchmarks: DARTS's weight step, variants
timed interleaved (A, B, C, then again) so they share the machine's load, and the peak memory
of a step in a fresh child process."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

log = logging.getLogger("benchmarks.stepping")


class Trainer:
    """One DARTS weight step: weights = softmax(alpha) (alpha requires grad), forward,
    cross-entropy, backward, grad clip, SGD (DARTS's settings) on ``params`` (default: all of
    the model's; a peer passes its operation weights, without its own alpha)."""

    def __init__(self, model: nn.Module, alpha_shape: tuple[int, ...],
                 data: tuple[torch.Tensor, torch.Tensor],
                 params: Iterable[nn.Parameter] | None = None,
                 optimizer_options: dict[str, Any] | None = None) -> None:
        self.model = model
        self.params = list(model.parameters() if params is None else params)
        device = data[0].device
        self.alpha = nn.Parameter(1e-3 * torch.randn(
            *alpha_shape, generator=torch.Generator().manual_seed(1)).to(device))
        self.opt = torch.optim.SGD(self.params, lr=0.025, momentum=0.9, weight_decay=3e-4,
                                   **(optimizer_options or {}))
        self.x, self.y = data

    def step(self) -> float:
        return float(self.step_async().item())

    def step_async(self) -> torch.Tensor:
        """The step without reading its loss (nothing waits for the device)."""
        self.model.train()
        self.model.set_weights(torch.softmax(self.alpha, -1))  # type: ignore[operator]
        loss = nn.functional.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        self.alpha.grad = None
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()
        return loss.detach()


def interleaved(fns: dict[str, Callable[[], Any]], reps: int, warmup: int = 1
                ) -> dict[str, list[float]]:
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        log.info("warmed up %s", name)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for rep in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        log.info("rep %d: %s", rep,
                 {k: round(v[-1], 3) for k, v in times.items()})
    return times


def summary(times: list[float], samples: int) -> dict[str, Any]:
    med = statistics.median(times)
    return {"seconds": times, "median_s": med, "samples_per_s": samples / med}


def _status_mib(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process from /proc (Linux), in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def print_step_memory(trainer: Trainer) -> None:
    """Peak RSS of training steps above the RSS after the build (run in a fresh child). Not
    ``ru_maxrss``: Linux keeps that across exec, so a child would inherit the parent's mark.
    ``VmHWM`` belongs to this process's address space; writing 5 to clear_refs resets it to
    the current RSS."""
    base = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    deltas = []
    for _ in range(2):
        trainer.step()
        deltas.append(_status_mib("VmHWM") - base)
    print(json.dumps({"baseline_mib": base, "peak_mib": base + deltas[-1],
                      "first_step_delta_mib": deltas[0], "step_delta_mib": deltas[-1]}))
