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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.architecture import Architecture
from nasforge.config import Budget, RunConfig, dump_config
from nasforge.errors import ConfigError, RunDirError
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result, describe_for_store
from nasforge.executors import Executor, LocalExecutor
from nasforge.progress import Progress
from nasforge.spaces.base import SearchSpace
from nasforge.store import STORE_NAME, Trial, TrialStore, best_trial
from nasforge.strategies.base import AskTellStrategy
from nasforge.threads import warn_if_contended

if TYPE_CHECKING:
    from nasforge.report.figure import Plot

log = logging.getLogger(__name__)

# Called after every finished trial with (trial id, architecture, result).
Callback = Callable[[int, Architecture, Result], None]


@dataclass(repr=False)
class SearchResult:
    trials: list[Trial]
    best: Trial | None
    spent: float  # seconds of evaluation cost (simulated for a table)
    run_dir: Path | None

    @property
    def n_trials(self) -> int:
        return len(self.trials)

    def __repr__(self) -> str:
        """Short: the best architecture, its search signal and the trial count (a search of
        thousands of trials must not print every one)."""
        if self.best is None:
            best = "best=None"
        else:
            best = f"best={self.best.arch!r}, {OBJECTIVE}={self.best.result.objective:.4g}"
        return (f"SearchResult({best}, trials={self.n_trials}, "
                f"run_dir={str(self.run_dir) if self.run_dir else None!r})")


def check_run_dir(run_dir: Path, *, resume: bool) -> None:
    """Refuse to mix two runs in one directory, or to resume a directory with no run. A
    directory whose run failed before its first trial (e.g. the Ray cluster was not there)
    holds nothing worth keeping: a new run may take it."""
    if resume:
        if not (run_dir / STORE_NAME).is_file():
            raise RunDirError(f"cannot resume {run_dir}: it holds no {STORE_NAME}")
    elif run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        if failed_before_any_trial(run_dir):
            log.info("%s: its run failed before any trial; starting afresh there", run_dir)
            return
        raise RunDirError(
            f"{run_dir} already holds files (another run?); pass --resume {run_dir} to "
            "continue it, or choose another --out"
        )


def failed_before_any_trial(run_dir: Path) -> bool:
    if not (run_dir / STORE_NAME).is_file() or (run_dir / "checkpoint.pt").exists():
        return False
    try:
        with TrialStore(run_dir / STORE_NAME) as store:
            return store.get_meta("status") == "failed" and not store.trials()
    except RunDirError:  # unreadable: not ours to overwrite
        return False


def stored_status(run_dir: Path) -> str:
    """The status recorded in a run directory: running, finished, failed or interrupted."""
    with TrialStore(run_dir / STORE_NAME) as store:
        return str(store.get_meta("status", "unknown"))


def stored_result(run_dir: Path) -> SearchResult:
    """The result of a run as its store holds it (no strategy, nothing evaluated)."""
    with TrialStore(run_dir / STORE_NAME) as store:
        trials = store.trials()
    return SearchResult(trials, best_trial(trials), sum(t.result.cost for t in trials),
                        run_dir)


def open_run_dir(run_dir: Path, *, resume: bool) -> TrialStore:
    """Create a fresh run directory, or reopen one to resume."""
    check_run_dir(run_dir, resume=resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    return TrialStore(run_dir / STORE_NAME)


def run_search(space: SearchSpace, evaluator: Evaluator, strategy: AskTellStrategy, *,
               budget: Budget, run_dir: str | Path | None = None, resume: bool = False,
               config: RunConfig | None = None, progress: bool | None = None,
               callbacks: Sequence[Callback] = (), executor: Executor | None = None,
               label: str = "search") -> SearchResult:
    """Search until the budget is spent (or the strategy is finished); return the trials.

    ``run_dir=None`` keeps the store in memory (nothing on disk, no resume). ``progress``:
    see ``nasforge.progress`` (``label`` names the bar)."""
    if budget.trials is None and budget.seconds is None:
        raise ConfigError("a search needs a budget: set budget.trials and/or budget.seconds")
    warn_if_contended()  # shared cores + OpenMP spin-waiting: see nasforge.threads
    path = Path(run_dir) if run_dir is not None else None
    store = open_run_dir(path, resume=resume) if path else TrialStore(":memory:")
    with store, ending_recorded(lambda status: store.set_meta("status", status)):
        if path is not None:
            _record_config(store, path, config, space, resume)
            store.set_meta("evaluator", describe_for_store(evaluator))  # labels the report
        in_flight = _restore(store, strategy, resume)
        runner = executor or LocalExecutor()
        try:
            runner.start(evaluator)  # inside: a failed start (e.g. Ray) is a failed run
            _loop(store, space, strategy, budget, progress, callbacks, runner, in_flight,
                  label)
        finally:
            runner.close()
        trials = store.trials()
        store.set_meta("status", "finished")
        store.set_meta("finished_at", time.time())
    result = SearchResult(trials, best_trial(trials), sum(t.result.cost for t in trials), path)
    if path is not None:
        write_outputs(path, space, result, strategy.report_plots(path))
    return result


@contextmanager
def ending_recorded(set_status: Callable[[str], None]) -> Iterator[None]:
    """Record why a run ended early, so that it never shows "running" once its process is
    gone: "interrupted" (Ctrl-C, SIGTERM: ``--resume`` continues it) or "failed"."""
    try:
        yield
    except KeyboardInterrupt:
        set_status("interrupted")
        raise
    except BaseException:
        set_status("failed")
        raise


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
          again: list[Trial], label: str) -> None:
    done = [t for t in store.trials() if t.status != "running"]
    n, spent = len(done), sum(t.result.cost for t in done)
    best = max((t.result.objective for t in done if t.status == "ok"), default=-math.inf)
    in_flight: dict[int, Architecture] = {}
    executor.restore(done)  # e.g. the simulated clock goes on where it stopped
    for trial in again:  # asked before the kill: run as asked, never asked twice
        executor.submit(trial.id, trial.arch)
        in_flight[trial.id] = trial.arch
    with _progress_bar(budget, n, spent, progress, label) as bar:
        while True:
            while (len(in_flight) < executor.capacity and not strategy.finished
                   and not _exhausted(budget, n + len(in_flight),
                                      executor.budget_clock(spent))):
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
            bar.advance(1 if budget.seconds is None else result.cost,
                        _status(n, best, budget))
            for callback in callbacks:
                callback(trial_id, arch, result)


def _status(n: int, best: float, budget: Budget) -> str:
    """What the bar says besides its count: the best search signal so far (and the trials
    done, when the bar counts seconds)."""
    trials = f"{n} trials" if budget.seconds is not None else ""
    best_text = f"best {best:.2f}" if math.isfinite(best) else "no trial finished yet"
    return f"{trials}, {best_text}" if trials else best_text


def _exhausted(budget: Budget, n: int, spent: float) -> bool:
    return (budget.trials is not None and n >= budget.trials) or (
        budget.seconds is not None and spent >= budget.seconds
    )


def _progress_bar(budget: Budget, n: int, spent: float, progress: bool | None,
                  label: str) -> Progress:
    if budget.seconds is None:
        return Progress(label, budget.trials, initial=n, unit="trial", progress=progress)
    return Progress(f"{label} (cost)", budget.seconds, initial=spent, unit="s",
                    progress=progress)


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
