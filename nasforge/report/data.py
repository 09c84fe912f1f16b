"""What the report shows, computed from the trials of a run directory (no plotting here)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.architecture import Architecture
from nasforge.run.store import STORE_NAME, Trial, TrialStore, best_trial
from nasforge.spaces.base import SearchSpace

log = logging.getLogger(__name__)

TEST_METRIC = "test_acc"
SIM_TIME = "sim_time"  # set by the simulated executor: the simulated second a trial ended


@dataclass(frozen=True)
class Summary:
    """Counts, costs and the best trial of a run."""

    n_trials: int
    n_ok: int
    n_failed: int
    n_running: int
    total_cost: float  # seconds of evaluation cost (simulated for a table)
    wall_time: float | None  # first start to last finish, in seconds
    best: Trial | None


@dataclass(frozen=True)
class RunInfo:
    """What the run spine recorded about a run besides its trials (store meta data).

    ``evaluator``: the evaluator's description (``{"evaluator": "table", ...}``), {} if not
    recorded; ``epochs``: the supernet's per-epoch history of a one-shot run (None for an
    ask/tell run); ``created`` / ``finished_at``: real clock times (None if not recorded);
    ``supernet_from``: the run whose trained supernet a one-shot run started from."""

    evaluator: dict[str, Any]
    epochs: list[dict[str, float]] | None
    created: float | None
    finished_at: float | None
    supernet_from: str | None = None

    @property
    def one_shot(self) -> bool:
        return self.epochs is not None

    @property
    def wall_time(self) -> float | None:
        """Real seconds from the run's creation to its end (pauses before a resume included)."""
        if self.created is None or self.finished_at is None:
            return None
        return self.finished_at - self.created


@dataclass(frozen=True)
class Progress:
    """Per-trial series in trial order (failed trials included: they spend budget).

    ``signal`` is NaN for trials without a finite search signal; ``best`` is the running
    maximum of the signal (NaN before the first one); ``best_test`` is the test accuracy of
    that best-so-far trial (NaN where unknown)."""

    trial_no: np.ndarray
    cum_cost: np.ndarray
    signal: np.ndarray
    best: np.ndarray
    best_test: np.ndarray

    @property
    def has_test(self) -> bool:
        return bool(np.isfinite(self.best_test).any())


def load_trials(run_dir: Path) -> list[Trial]:
    """The trials of ``run_dir`` in id order; none if it holds no store (none is created)."""
    path = run_dir / STORE_NAME
    if not path.is_file():
        log.warning("%s holds no %s: the report shows no trials", run_dir, STORE_NAME)
        return []
    with TrialStore(path) as store:
        return store.trials()


def load_run_info(run_dir: Path) -> RunInfo:
    """The run's meta data; empty for a directory without a store."""
    path = run_dir / STORE_NAME
    if not path.is_file():
        return RunInfo({}, None, None, None)
    with TrialStore(path) as store:
        evaluator, epochs = store.get_meta("evaluator", {}), store.get_meta("epochs")
        created, finished = store.get_meta("created"), store.get_meta("finished_at")
        source = store.get_meta("supernet_from")
    return RunInfo(evaluator if isinstance(evaluator, dict) else {},
                   epochs if isinstance(epochs, list) else None,
                   float(created) if isinstance(created, (int, float)) else None,
                   float(finished) if isinstance(finished, (int, float)) else None,
                   source if isinstance(source, str) else None)


def sim_clock(trials: Sequence[Trial]) -> float | None:
    """The simulated cluster's wall-clock at the end (the last ``sim_time``), None if the run
    was not on the simulated executor."""
    times = [metric_of(t, SIM_TIME) for t in trials]
    finite = [x for x in times if math.isfinite(x)]
    return max(finite) if finite else None


def signal_of(trial: Trial) -> float:
    """The search signal of a trial, NaN if it has none (failed, running, or not finite)."""
    value = trial.result.objective
    return value if math.isfinite(value) else math.nan


def metric_of(trial: Trial, name: str) -> float:
    """A metric of a finished trial as a float, NaN if absent or failed."""
    if not trial.result.ok or name not in trial.result.metrics:
        return math.nan
    try:
        return float(trial.result.metrics[name])
    except (TypeError, ValueError):
        return math.nan


def summarize(trials: Sequence[Trial]) -> Summary:
    """Counts by status, total cost, wall time and the best trial."""
    finished = [t.finished for t in trials if t.finished is not None]
    wall = max(finished) - min(t.started for t in trials) if finished else None
    return Summary(
        n_trials=len(trials),
        n_ok=sum(t.status == "ok" for t in trials),
        n_failed=sum(t.status == "failed" for t in trials),
        n_running=sum(t.status == "running" for t in trials),
        total_cost=float(sum(t.result.cost for t in trials)),
        wall_time=wall,
        best=best_trial(trials),
    )


def progress(trials: Sequence[Trial]) -> Progress:
    """The best-so-far series (incumbent = first trial reaching the running maximum)."""
    signal = np.array([signal_of(t) for t in trials], dtype=float)
    best = np.full(len(trials), np.nan)
    best_test = np.full(len(trials), np.nan)
    incumbent: Trial | None = None
    for i, trial in enumerate(trials):
        if not math.isnan(signal[i]) and (incumbent is None or signal[i] > signal_of(incumbent)):
            incumbent = trial
        if incumbent is not None:
            best[i] = signal_of(incumbent)
            best_test[i] = metric_of(incumbent, TEST_METRIC)
    return Progress(
        trial_no=np.arange(1, len(trials) + 1),
        cum_cost=np.cumsum([t.result.cost for t in trials], dtype=float),
        signal=signal, best=best, best_test=best_test,
    )


def top_trials(trials: Sequence[Trial], n: int = 20) -> list[Trial]:
    """The ``n`` trials with the highest signal (earliest first on a tie, failed last)."""
    def rank(t: Trial) -> tuple[float, int]:
        value = signal_of(t)
        return (-value if not math.isnan(value) else math.inf, t.id)

    return sorted(trials, key=rank)[:n]


def arch_text(space: SearchSpace, arch: Architecture) -> str:
    """``space.format(arch)``, or the plain JSON if the space cannot format it."""
    try:
        return space.format(arch)
    except Exception as exc:  # a report must not fail on one odd architecture
        log.warning("space %r cannot format %r (%s); showing JSON", space.name, arch, exc)
        return arch.to_json()


def has_metric(trials: Sequence[Trial], name: str) -> bool:
    """Whether any finished trial reports the metric ``name`` (e.g. 'test_acc')."""
    return any(t.result.ok and name in t.result.metrics for t in trials)

