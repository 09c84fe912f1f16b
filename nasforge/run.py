"""run_search: the ask -> evaluate -> tell -> store loop, with budget, resume and outputs.

Resume is exact: the store holds every trial and, in the same transaction as each ask and each
result, the strategy's state after it. On resume the strategy state is restored, the trials
that were in flight are evaluated again as they were asked, and the loop continues, so with the
same seed the trial sequence is the one an uninterrupted run would have produced, and no
finished trial is evaluated again.

With an executor of capacity K (``executor: {name: process, workers: K}``) up to K trials run
at once and the strategy is told in completion order (asynchronous search).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from nasforge.architecture import Architecture
from nasforge.config import Budget, RunConfig, dump_config
from nasforge.errors import ConfigError, RunDirError, TrialFailed
from nasforge.evaluators.base import Evaluator, Result
from nasforge.executors import Executor, LocalExecutor
from nasforge.spaces.base import SearchSpace
from nasforge.store import Trial, TrialStore
from nasforge.strategies.base import AskTellStrategy
from nasforge.threads import warn_if_contended

if TYPE_CHECKING:
    from nasforge.report.html import Plot

log = logging.getLogger(__name__)

STORE_NAME = "trials.sqlite"
# Called after every finished trial with (trial id, architecture, result).
Callback = Callable[[int, Architecture, Result], None]


@dataclass
class SearchResult:
    trials: list[Trial]
    best: Trial | None
    spent: float  # seconds of evaluation cost (simulated for a table)
    run_dir: Path | None

    @property
    def n_trials(self) -> int:
        return len(self.trials)


def best_trial(trials: Sequence[Trial]) -> Trial | None:
    """The finished trial with the highest search signal (the earliest on a tie)."""
    ok = [t for t in trials if t.status == "ok" and math.isfinite(t.result.objective)]
    return max(ok, key=lambda t: (t.result.objective, -t.id)) if ok else None


def check_run_dir(run_dir: Path, *, resume: bool) -> None:
    """Refuse to mix two runs in one directory, or to resume a directory with no run."""
    if resume:
        if not (run_dir / STORE_NAME).is_file():
            raise RunDirError(f"cannot resume {run_dir}: it holds no {STORE_NAME}")
    elif run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise RunDirError(
            f"{run_dir} already holds files (another run?); pass --resume {run_dir} to "
            "continue it, or choose another --out"
        )


def open_run_dir(run_dir: Path, *, resume: bool) -> TrialStore:
    """Create a fresh run directory, or reopen one to resume."""
    check_run_dir(run_dir, resume=resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    return TrialStore(run_dir / STORE_NAME)


def run_search(space: SearchSpace, evaluator: Evaluator, strategy: AskTellStrategy, *,
               budget: Budget, run_dir: str | Path | None = None, resume: bool = False,
               config: RunConfig | None = None, progress: bool | None = None,
               callbacks: Sequence[Callback] = (), executor: Executor | None = None
               ) -> SearchResult:
    """Search until the budget is spent (or the strategy is finished); return the trials.

    ``run_dir=None`` keeps the store in memory (nothing on disk, no resume)."""
    if budget.trials is None and budget.seconds is None:
        raise ConfigError("a search needs a budget: set budget.trials and/or budget.seconds")
    warn_if_contended()  # shared cores + OpenMP spin-waiting: see nasforge.threads
    path = Path(run_dir) if run_dir is not None else None
    store = open_run_dir(path, resume=resume) if path else TrialStore(":memory:")
    with store:
        if path is not None:
            _record_config(store, path, config, space, resume)
        in_flight = _restore(store, strategy, resume)
        runner = executor or LocalExecutor()
        runner.start(evaluator)
        try:
            _loop(store, space, strategy, budget, progress, callbacks, runner, in_flight)
        finally:
            runner.close()
        trials = store.trials()
        store.set_meta("status", "finished")
    result = SearchResult(trials, best_trial(trials), sum(t.result.cost for t in trials), path)
    if path is not None:
        write_outputs(path, space, result, strategy.report_plots(path))
    return result


def _record_config(store: TrialStore, path: Path, config: RunConfig | None,
                   space: SearchSpace, resume: bool) -> None:
    if resume:
        return
    if config is not None:
        (path / "config.yaml").write_text(dump_config(config))
    store.set_meta("space", {"name": space.name, **space.options()})
    store.set_meta("status", "running")
    store.set_meta("created", time.time())


def _restore(store: TrialStore, strategy: AskTellStrategy, resume: bool) -> list[Trial]:
    """Restore the strategy; return the trials that were in flight and are run again."""
    if not resume:
        return []
    checkpoint = store.load_state()
    asked = 0
    if checkpoint is not None:
        asked = checkpoint[0]
        strategy.load_state_dict(checkpoint[1])
    dropped = store.discard_running(after=asked)
    again = store.trials("running")
    log.info("resuming: %d finished trials, %d in flight run again, %d asked again",
             len(store.trials()) - len(again), len(again), dropped)
    store.set_meta("status", "running")
    return again


def _loop(store: TrialStore, space: SearchSpace, strategy: AskTellStrategy, budget: Budget,
          progress: bool | None, callbacks: Sequence[Callback], executor: Executor,
          again: list[Trial]) -> None:
    done = [t for t in store.trials() if t.status != "running"]
    n, spent = len(done), sum(t.result.cost for t in done)
    best = max((t.result.objective for t in done if t.status == "ok"), default=-math.inf)
    in_flight: dict[int, Architecture] = {}
    for trial in again:  # asked before the kill: run as asked, never asked twice
        executor.submit(trial.id, trial.arch)
        in_flight[trial.id] = trial.arch
    with _progress_bar(budget, n, spent, progress) as bar:
        while True:
            while (len(in_flight) < executor.capacity and not strategy.finished
                   and not _exhausted(budget, n + len(in_flight), spent)):
                arch = strategy.ask()
                trial_id = store.start(arch, space.key(arch), strategy.state_dict())
                executor.submit(trial_id, arch)
                in_flight[trial_id] = arch
            if not in_flight:
                break
            trial_id, result = executor.wait()
            arch = in_flight.pop(trial_id)
            strategy.tell(arch, result)
            store.finish(trial_id, result, strategy.state_dict())
            n, spent = n + 1, spent + result.cost
            if math.isfinite(result.objective):
                best = max(best, result.objective)
            bar.update(1 if budget.seconds is None else min(result.cost, budget.seconds))
            bar.set_postfix_str(f"best {best:.2f}", refresh=False)
            for callback in callbacks:
                callback(trial_id, arch, result)


def _exhausted(budget: Budget, n: int, spent: float) -> bool:
    return (budget.trials is not None and n >= budget.trials) or (
        budget.seconds is not None and spent >= budget.seconds
    )


def _progress_bar(budget: Budget, n: int, spent: float, progress: bool | None) -> tqdm:
    enabled = sys.stderr.isatty() if progress is None else progress
    if budget.seconds is None:
        return tqdm(total=budget.trials, initial=n, unit="trial", disable=not enabled,
                    desc="search")
    return tqdm(total=budget.seconds, initial=min(spent, budget.seconds), unit="s",
                disable=not enabled, desc="search (cost s)",
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s [{elapsed}<{remaining}{postfix}]")


def evaluate_safely(evaluator: Evaluator, arch: Architecture) -> Result:
    """One failing candidate (NaN loss, crash) becomes a failed trial, never a failed search.
    User errors (bad config, missing file) still stop the search."""
    start = time.perf_counter()
    try:
        return evaluator.evaluate(arch)
    except TrialFailed as exc:
        return Result.failed(str(exc), cost=time.perf_counter() - start)
    except (ConfigError, RunDirError):
        raise
    except Exception as exc:  # noqa: BLE001  (any crash of one candidate)
        log.warning("trial failed: %s\n%s", exc, traceback.format_exc())
        return Result.failed(f"{type(exc).__name__}: {exc}", cost=time.perf_counter() - start)


def best_record(space: SearchSpace, trial: Trial) -> dict[str, Any]:
    """The JSON record of one architecture: enough for ``nasforge train`` to rebuild it."""
    return {
        "space": {"name": space.name, **space.options()},
        "architecture": trial.arch.to_dict(),
        "arch_str": space.format(trial.arch),
        "key": trial.key,
        "trial": trial.id,
        "metrics": trial.result.metrics,
        "cost": trial.result.cost,
        "params": trial.result.params,
        "flops": trial.result.flops,
    }


def write_outputs(run_dir: Path, space: SearchSpace, result: SearchResult,
                  plots: Sequence[Plot] = ()) -> None:
    from nasforge.report import write_report

    if result.best is not None:
        record = best_record(space, result.best)
        (run_dir / "best.json").write_text(json.dumps(record, indent=2) + "\n")
    write_report(run_dir, space, extra_plots=plots)
