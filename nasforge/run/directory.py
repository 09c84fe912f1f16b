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
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasforge.config import RunConfig, dump_config
from nasforge.errors import RunDirError, SearchFailed
from nasforge.evaluators.base import OBJECTIVE, Evaluator, describe_for_store
from nasforge.report.figure import Plot
from nasforge.run.lock import LOCK_NAME, RunLock, holder, in_use_error
from nasforge.run.store import STORE_NAME, Trial, TrialStore, best_trial
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.reference import space_spec
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


@dataclass(frozen=True)
class Advice:
    """How the user continues a run or picks another directory, in the words of the front
    door they came through (flags in the CLI, arguments in Python)."""

    resume: str = "pass --resume {dir} to continue it"
    other: str = "choose another --out"
    start: str = "nasforge search CONFIG --out {dir}"


CLI = Advice()
PYTHON = Advice("pass resume=True to continue it", "choose another run_dir=",
                "nasforge.search(..., run_dir={dir!r})")


class RunDir:
    """One run's directory (or, with ``path=None``, its store in memory).

    Used as a context manager: from entering to leaving, this process holds the directory's
    lock (``nasforge.run.lock``), so a second search or resume of it is refused. A fresh
    run writes ``config.yaml`` before anything else it stores, so an interrupt at any moment
    leaves a directory that either command (the original one, or ``--resume``) continues."""

    def __init__(self, path: str | Path | None, *, resume: bool = False,
                 advice: Advice = CLI) -> None:
        self.path = Path(path) if path is not None else None
        self.resume, self.advice = resume, advice
        self._lock: RunLock | None = None

    def __enter__(self) -> RunDir:
        if self.path is not None:
            self._lock = RunLock(_made(self.path))
            self._lock.acquire()
            try:
                check_run_dir(self.path, resume=self.resume, advice=self.advice,
                              locked_by_us=True)
            except BaseException:
                self._lock.release()
                raise
            if not started(self.path):  # nothing to continue: (re)start it from its config
                self.resume = False
                clear_unstarted(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()

    @contextmanager
    def running(self, *, space: SearchSpace, evaluator: Evaluator | None,
                config: RunConfig | None = None) -> Iterator[TrialStore]:
        """The open store of a run from start to end: status ``running`` while inside,
        ``finished`` on a normal exit, ``interrupted`` (Ctrl-C, SIGTERM) or ``failed``."""
        store = self._open(config)
        with store, ending_recorded(lambda status: store.set_meta("status", status)):
            self._begin(store, space, evaluator)
            yield store
            store.set_meta("status", "finished")
            store.set_meta("finished_at", time.time())

    def _open(self, config: RunConfig | None) -> TrialStore:
        if self.path is None:
            return TrialStore(":memory:")
        assert self._lock is not None, "use the RunDir as a context manager"
        if not self.resume and config is not None:  # first: a directory a resume can read
            write_atomically(self.path / CONFIG_NAME, dump_config(config))
        return TrialStore(self.path / STORE_NAME)

    def _begin(self, store: TrialStore, space: SearchSpace, evaluator: Evaluator | None
               ) -> None:
        if not self.resume:
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
            write_atomically(self.path / "best.json", json.dumps(record, indent=2) + "\n")
        write_report(self.path, space, extra_plots=plots)  # last: a complete run has one


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


def _made(path: Path) -> Path:
    """``path`` created (with its parents) if missing; a path that cannot be a directory is
    one user error line, not an OSError."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the run directory {path}: "
                          f"{exc.strerror or exc}") from None
    return path


def make_run_dir(path: Path) -> Path:
    """Create ``path`` now (before a run is built), so that one that cannot be a run
    directory fails as one line before anything else is done."""
    return _made(path)


def write_atomically(path: Path, text: str) -> None:
    """Write ``path`` so that a reader (or a resume after a kill) sees all of it or none."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def check_run_dir(run_dir: Path, *, resume: bool, advice: Advice = CLI,
                  locked_by_us: bool = False) -> None:
    """Refuse a directory another live process runs, to mix two runs in one directory, or
    to resume a directory with no run. A directory whose run never started (interrupted in
    its first moments) or failed before its first trial holds nothing worth keeping: a new
    run may take it, and a resume starts it."""
    who = None if locked_by_us else holder(run_dir)
    if who is not None:
        raise in_use_error(run_dir, who)
    if resume:
        if not (run_dir / STORE_NAME).is_file() and not (run_dir / CONFIG_NAME).is_file():
            raise RunDirError(f"cannot resume {run_dir}: it holds no run; start one with "
                              + advice.start.format(dir=str(run_dir)))
        return
    if run_dir.exists() and (not run_dir.is_dir() or _holds_files(run_dir)):
        if not started(run_dir) or failed_before_any_trial(run_dir):
            log.info("%s: its run never started a trial; starting afresh there", run_dir)
            return
        raise RunDirError(f"{run_dir} already holds a run; "
                          f"{advice.resume.format(dir=str(run_dir))}, or {advice.other}")


def _holds_files(run_dir: Path) -> bool:
    return any(p.name != LOCK_NAME for p in run_dir.iterdir())


def started(run_dir: Path) -> bool:
    """Whether a run in ``run_dir`` has done work worth resuming: a trial (finished or in
    flight) or a one-shot checkpoint. Not: only ``config.yaml``, an empty store."""
    if (run_dir / CHECKPOINT).exists():
        return True
    if not (run_dir / STORE_NAME).is_file():
        return False
    try:
        with TrialStore(run_dir / STORE_NAME) as store:
            return bool(store.count_trials()) or store.get_meta("status") == "finished"
    except RunDirError:  # unreadable: not ours to overwrite
        return True


def clear_unstarted(run_dir: Path) -> None:
    """Remove what a run that never started left (its store), so it starts clean."""
    for name in (STORE_NAME, STORE_NAME + "-wal", STORE_NAME + "-shm"):
        (run_dir / name).unlink(missing_ok=True)


def failed_before_any_trial(run_dir: Path) -> bool:
    if not (run_dir / STORE_NAME).is_file() or (run_dir / CHECKPOINT).exists():
        return False
    try:
        with TrialStore(run_dir / STORE_NAME) as store:
            return store.get_meta("status") == "failed" and not store.trials()
    except RunDirError:  # unreadable: not ours to overwrite
        return False


def require_a_finished_trial(result: SearchResult) -> None:
    """A search in which no trial finished failed, whatever its strategy says: raise with
    the first trial's error (so the command exits non-zero and the run is "failed")."""
    if result.best is not None:
        return
    failed = [t for t in result.trials if t.result.error]
    if failed:
        first = failed[0]
        raise SearchFailed(f"no trial finished ({len(failed)} of {len(result.trials)} failed); "
                           f"trial {first.id}: {first.result.error}")
    raise SearchFailed(f"no trial finished ({len(result.trials)} trials, none with a finite "
                       "search signal)")


def outputs_written(run_dir: Path) -> bool:
    """Whether a finished run wrote its outputs (``report.html``, written last, atomically):
    a run killed while writing them is finished by ``--resume``."""
    return (run_dir / "report.html").is_file()


def stored_status(run_dir: Path) -> str:
    """The status recorded in a run directory: running, finished, failed or interrupted
    ("not started" before its store exists)."""
    if not (run_dir / STORE_NAME).is_file():
        return "not started"
    with TrialStore(run_dir / STORE_NAME) as store:
        return str(store.get_meta("status", "unknown"))


def stored_result(run_dir: Path) -> SearchResult:
    """The result of a run as its store holds it (no strategy, nothing evaluated)."""
    with TrialStore(run_dir / STORE_NAME) as store:
        return SearchResult.of(store.trials(), run_dir)


def best_record(space: SearchSpace, trial: Trial) -> dict[str, Any]:
    """The JSON record of one architecture: enough for ``nasforge train`` to rebuild it
    (a user's space by reference: ``nasforge.spaces.reference``)."""
    return {
        "space": space_spec(space),
        "architecture": trial.arch.to_dict(),
        "arch_str": space.format(trial.arch),
        "key": trial.key,
        "trial": trial.id,
        "metrics": trial.result.metrics,
        "cost": trial.result.cost,
        "params": trial.result.params,
        "flops": trial.result.flops,
    }
