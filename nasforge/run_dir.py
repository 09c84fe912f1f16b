"""``RunDir``: the life cycle of one run directory, the same for ask/tell and one-shot runs.

Create or resume (a directory holding another run is refused unless resumed; one whose run
failed before its first trial is taken over), ``config.yaml`` written once, the status
(``running``, then ``finished``, ``failed`` or ``interrupted``), the SQLite store
(``trials.sqlite``), and the outputs: ``best.json`` and the self-contained report. A run
without a directory (``path=None``) keeps its store in memory and writes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasforge.config import RunConfig, dump_config
from nasforge.errors import RunDirError
from nasforge.evaluators.base import OBJECTIVE, Evaluator, describe_for_store
from nasforge.report.figure import Plot
from nasforge.spaces.base import SearchSpace
from nasforge.store import STORE_NAME, Trial, TrialStore, best_trial
from nasforge.supernet.checkpoint import CHECKPOINT

log = logging.getLogger(__name__)
CONFIG_NAME = "config.yaml"


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

    @classmethod
    def of(cls, trials: list[Trial], run_dir: Path | None) -> SearchResult:
        return cls(trials, best_trial(trials), sum(t.result.cost for t in trials), run_dir)


class RunDir:
    """One run's directory (or, with ``path=None``, its store in memory)."""

    def __init__(self, path: str | Path | None, *, resume: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.resume = resume

    @contextmanager
    def running(self, *, space: SearchSpace, evaluator: Evaluator | None,
                config: RunConfig | None = None) -> Iterator[TrialStore]:
        """The open store of a run from start to end: status ``running`` while inside,
        ``finished`` on a normal exit, ``interrupted`` (Ctrl-C, SIGTERM) or ``failed``."""
        store = self._open()
        with store, ending_recorded(lambda status: store.set_meta("status", status)):
            self._begin(store, space, evaluator, config)
            yield store
            store.set_meta("status", "finished")
            store.set_meta("finished_at", time.time())

    def _open(self) -> TrialStore:
        if self.path is None:
            return TrialStore(":memory:")
        check_run_dir(self.path, resume=self.resume)
        self.path.mkdir(parents=True, exist_ok=True)
        return TrialStore(self.path / STORE_NAME)

    def _begin(self, store: TrialStore, space: SearchSpace, evaluator: Evaluator | None,
               config: RunConfig | None) -> None:
        if not self.resume:  # written once: a resumed run keeps the config it began with
            if config is not None and self.path is not None:
                (self.path / CONFIG_NAME).write_text(dump_config(config))
            store.set_meta("created", time.time())  # the report's real wall time
        # The report's labels (set on resume too: a run begun by an older version may lack them)
        store.set_meta("space", {"name": space.name, **space.options()})
        store.set_meta("evaluator", describe_for_store(evaluator))
        store.set_meta("status", "running")

    def write_outputs(self, space: SearchSpace, result: SearchResult,
                      plots: Sequence[Plot] = ()) -> None:
        """``best.json`` (what ``nasforge train`` rebuilds) and the report; nothing in memory."""
        if self.path is None:
            return
        from nasforge.report import write_report  # matplotlib: only once a run has outputs

        if result.best is not None:
            record = best_record(space, result.best)
            (self.path / "best.json").write_text(json.dumps(record, indent=2) + "\n")
        write_report(self.path, space, extra_plots=plots)


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
    if not (run_dir / STORE_NAME).is_file() or (run_dir / CHECKPOINT).exists():
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
        return SearchResult.of(store.trials(), run_dir)


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
