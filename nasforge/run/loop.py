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

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from nasforge import interrupts
from nasforge.architecture import Architecture
from nasforge.config import Budget, RunConfig
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator, Result
from nasforge.progress import Progress
from nasforge.run.directory import CLI, Advice, RunDir, SearchResult, require_a_finished_trial
from nasforge.run.executors import Executor, LocalExecutor
from nasforge.run.store import Trial, TrialStore
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.threads import warn_if_contended

log = logging.getLogger(__name__)

# Called after every finished trial with (trial id, architecture, result).
Callback = Callable[[int, Architecture, Result], None]


def run_search(space: SearchSpace, evaluator: Evaluator, strategy: AskTellStrategy, *,
               budget: Budget, run_dir: str | Path | None = None, resume: bool = False,
               config: RunConfig | None = None, progress: bool | None = None,
               callbacks: Sequence[Callback] = (), executor: Executor | None = None,
               label: str = "search", advice: Advice = CLI) -> SearchResult:
    """Search until the budget is spent (or the strategy is finished); return the trials.

    ``run_dir=None`` keeps the store in memory (nothing on disk, no resume). ``progress``:
    see ``nasforge.progress`` (``label`` names the bar)."""
    if budget.trials is None and budget.seconds is None:
        raise ConfigError("a search needs a budget: set budget.trials and/or budget.seconds")
    warn_if_contended()  # shared cores + OpenMP spin-waiting: see nasforge.threads
    with RunDir(run_dir, resume=resume, advice=advice) as run:
        with run.running(space=space, evaluator=evaluator, config=config) as store:
            in_flight = _restore(store, strategy, run.resume)
            runner = executor or LocalExecutor()
            try:
                runner.start(evaluator)  # inside: a failed start (e.g. Ray) is a failed run
                _loop(store, space, strategy, budget, progress, callbacks, runner, in_flight,
                      label)
            finally:
                runner.close()
            result = SearchResult.of(store.trials(), run.path)
            require_a_finished_trial(result)  # else the run ends "failed"
        with interrupts.deferred():  # drawing plots: an interrupt waits until it is done
            run.write_outputs(space, result,
                              strategy.report_plots(run.path) if run.path else ())
    return result


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
