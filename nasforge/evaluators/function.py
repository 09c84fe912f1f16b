"""Evaluate with a user's plain function ``arch -> metrics``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from nasforge.architecture import Architecture
from nasforge.errors import TrialFailed
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result

MetricFn = Callable[[Architecture], "float | Mapping[str, Any]"]


class FunctionEvaluator(Evaluator):
    """Wraps ``fn(arch)``. It may return a number (the search signal, higher is better) or a
    mapping with ``valid_acc`` (or the key named by ``objective``) and any other metrics;
    ``cost``, ``params`` and ``flops`` keys fill the Result fields. Without ``cost`` the
    measured wall time is the cost."""

    def __init__(self, fn: MetricFn, objective: str = OBJECTIVE) -> None:
        self.fn = fn
        self.objective = objective

    def evaluate(self, arch: Architecture) -> Result:
        start = time.perf_counter()
        out = self.fn(arch)
        seconds = time.perf_counter() - start
        if not isinstance(out, Mapping):
            return Result(metrics={OBJECTIVE: _number(out, "the function")}, cost=seconds)
        metrics = {k: _number(v, f"the function's {k!r}") for k, v in out.items()
                   if k not in ("cost", "params", "flops")}
        if self.objective not in metrics:
            raise TrialFailed(f"the function returned no {self.objective!r}: {sorted(metrics)}")
        if not math.isfinite(metrics[self.objective]):
            raise TrialFailed(f"the function returned {self.objective} "
                              f"{metrics[self.objective]}, not a finite number")
        metrics[OBJECTIVE] = metrics[self.objective]
        return Result(
            metrics=metrics, cost=float(out.get("cost", seconds)),
            params=_opt_int(out.get("params")), flops=_opt_int(out.get("flops")),
        )


def _number(value: Any, what: str) -> float:
    """``value`` as a float; a trial fails (with what was returned) on anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
            value, "__float__"):
        raise TrialFailed(f"{what} returned {value!r}, not a number")
    number = float(value)
    if what == "the function" and not math.isfinite(number):
        raise TrialFailed(f"the function returned {number}, not a finite number")
    return number


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
