"""A simulated cluster: N virtual workers whose evaluations take the time the evaluator says
(``Result.cost``, e.g. the NB201 table's training time), processed in simulated time order
like a discrete-event simulator. Any ask/tell strategy runs on it unchanged, through the same
run loop as real executors, in seconds of real time.

- asynchronous (default): a worker that finishes is given the next candidate at once, and
  the strategy is told in finishing order (the RL paper's parameter-server setup);
- synchronous: the N workers start together and the strategy sees the whole batch before
  anything new starts (a barrier per round).

Each finished trial gets the metric ``sim_time``: the simulated wall-clock second it ended.

A ``seconds`` budget is the simulated cluster's wall-clock (what N machines would take), not
the summed cost of the trials (N times more): no trial starts at or after the budget, and the
trials in flight at that moment run to their end and are kept, as a cluster that stops
handing out work at the deadline would; so the clock ends at most one evaluation past it.
Config: ``executor: {name: simulated, workers: 64, synchronous: false}``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.registry import EXECUTORS
from nasforge.run.executors import Executor, evaluate_safely
from nasforge.run.store import Trial


@EXECUTORS.register("simulated")
class SimulatedExecutor(Executor):
    """Event queue of (finish time, submit order, trial). Evaluation itself happens at submit
    (a table look-up costs nothing real); its ``cost`` sets when it finishes."""

    def __init__(self, workers: int = 8, synchronous: bool = False) -> None:
        if workers < 1:
            raise ConfigError(f"executor.workers must be >= 1, got {workers}")
        self.workers, self.synchronous = workers, synchronous
        self.clock = 0.0
        self.events: list[tuple[float, int, int, Result]] = []
        self.order = 0
        self.draining = False  # synchronous: the round's results are coming back

    @property
    def capacity(self) -> int:  # type: ignore[override]
        if self.synchronous and self.draining:
            return len(self.events)  # no new work until the whole round is back
        return self.workers

    def restore(self, finished: Sequence[Trial]) -> None:
        """On resume the clock goes on from the last finished trial (the trials in flight at
        the kill start again then), so a seconds budget is not counted twice."""
        ends = [t.result.metrics.get("sim_time") for t in finished if t.status != "running"]
        self.clock = max([float(e) for e in ends if isinstance(e, (int, float))], default=0.0)

    def budget_clock(self, spent: float) -> float:
        """The simulated wall-clock: the finish time of the last trial waited for, which is
        when the next submitted trial would start."""
        del spent
        return self.clock

    def submit(self, trial_id: int, arch: Architecture) -> None:
        if len(self.events) >= self.workers:
            raise RuntimeError("no idle simulated worker")  # the run loop never does this
        result = evaluate_safely(self.evaluator, arch)
        heapq.heappush(self.events, (self.clock + result.cost, self.order, trial_id, result))
        self.order += 1

    def wait(self) -> tuple[int, Result]:
        finish, _, trial_id, result = heapq.heappop(self.events)
        self.clock = finish
        self.draining = bool(self.events)
        result.metrics["sim_time"] = finish
        return trial_id, result
