"""The evaluator interface: ``evaluate(arch) -> Result``."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from nasforge.architecture import Architecture

# The search signal every strategy maximises. Test metrics are for reporting only.
OBJECTIVE = "valid_acc"


@dataclass
class Result:
    """What one evaluation produced. ``cost`` is seconds: measured for real training,
    simulated (the benchmark's training time) for a table."""

    metrics: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    params: int | None = None
    flops: int | None = None
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def objective(self) -> float:
        """The search signal (higher is better); -inf for a failed trial."""
        if not self.ok:
            return -math.inf
        return float(self.metrics.get(OBJECTIVE, -math.inf))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def failed(cls, error: str, cost: float = 0.0) -> Result:
        return cls(status="failed", error=error, cost=cost)


class Evaluator(ABC):
    """Says how good an architecture is. Never chooses architectures."""

    # Whether ``evaluate`` shows its own progress (``nasforge.progress``): off while a
    # search's trial bar is on screen; the one-shot spine turns it on for the lone
    # evaluation of its selection (e.g. retraining the SPOS winner for minutes).
    progress: bool | None = False

    @abstractmethod
    def evaluate(self, arch: Architecture) -> Result: ...

    def describe(self) -> dict[str, Any]:
        """What the report shows about this evaluator."""
        return {"evaluator": type(self).__name__}


def describe_for_store(evaluator: Evaluator | None) -> dict[str, Any]:
    """``evaluator.describe()`` with plain JSON values (what the run store keeps, so a report
    can say where each number comes from). ``None``: a one-shot run that scores its selection
    on the selected path inside the supernet."""
    if evaluator is None:
        return {"evaluator": "supernet_path"}
    plain = (str, int, float, bool, type(None))
    return {str(k): v if isinstance(v, plain) else str(v)
            for k, v in evaluator.describe().items()}
