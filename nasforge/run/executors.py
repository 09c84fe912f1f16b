"""Where candidates are evaluated: in this process one after another (``local``), or several at
a time in worker processes of this machine (``process``). Results come back as they finish,
so an ask/tell strategy is told in completion order (asynchronous search, as the RL paper's
parallel children). The run store stays the single source of truth: an executor only runs.

Config: ``executor: {name: process, workers: 4, cpus_per_trial: 1, max_retries: 2}``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import signal
import time
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from nasforge import interrupts
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, RunDirError, TrialFailed
from nasforge.evaluators.base import Evaluator, Result
from nasforge.registry import EXECUTORS
from nasforge.threads import child_environment

if TYPE_CHECKING:
    from nasforge.run.store import Trial

log = logging.getLogger(__name__)


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
        if caused_by_interrupt(exc):  # e.g. Ctrl-C inside a lazy import: a RecursionError
            raise KeyboardInterrupt from exc
        log.warning("trial failed: %s\n%s", exc, traceback.format_exc())
        return Result.failed(f"{type(exc).__name__}: {exc}", cost=time.perf_counter() - start)


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling (or because of) a Ctrl-C or SIGTERM: such an
    error is the interrupt's, not the candidate's, and must stop the run as "interrupted"
    rather than fail the trial (and every later one, if it left a module half imported)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class Executor(ABC):
    """``submit`` a trial, ``wait`` for the next finished one. ``capacity`` trials may be in
    flight at once."""

    capacity: int = 1

    def start(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def check(self) -> None:
        """Fail fast on a setting that cannot work (e.g. no cluster at the address), before
        a run directory is made."""
        log.debug("%s: nothing to check", type(self).__name__)

    @abstractmethod
    def submit(self, trial_id: int, arch: Architecture) -> None: ...

    @abstractmethod
    def wait(self) -> tuple[int, Result]:
        """The next finished trial (blocks until one is)."""

    def restore(self, finished: Sequence[Trial]) -> None:
        """Continue a resumed run after its ``finished`` trials (real executors keep no
        state between runs)."""
        del finished

    def budget_clock(self, spent: float) -> float:
        """The seconds a ``seconds`` budget counts, given the summed evaluation cost so far:
        that sum for real executors (the compute spent); the simulated executor counts its
        cluster's wall-clock instead."""
        return spent

    def close(self) -> None:
        """Release workers."""
        log.debug("%s closed", type(self).__name__)


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """Serial: a trial is evaluated when it is waited for."""

    def __init__(self) -> None:
        self.queue: deque[tuple[int, Architecture]] = deque()

    def submit(self, trial_id: int, arch: Architecture) -> None:
        self.queue.append((trial_id, arch))

    def wait(self) -> tuple[int, Result]:
        trial_id, arch = self.queue.popleft()
        return trial_id, evaluate_safely(self.evaluator, arch)


_WORKER_EVALUATOR: Evaluator | None = None


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while it may start worker processes: they inherit the
    mask, so a Ctrl-C that lands while one starts up (before it can ignore SIGINT) does not
    print its traceback; here the signal is held, and delivered when the block ends."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _init_worker(evaluator: Evaluator, threads: int) -> None:
    """Runs once per worker process: the evaluator is sent once, not with every trial."""
    global _WORKER_EVALUATOR
    import torch

    # Ctrl-C reaches the whole terminal's process group: the search process handles it (and
    # stops these workers), so a worker must not die of it with a traceback of its own. The
    # worker was started with SIGINT blocked (``_sigint_blocked``), so a Ctrl-C during its
    # start-up waits, and is dropped here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    torch.set_num_threads(threads)
    _WORKER_EVALUATOR = evaluator


def _evaluate_in_worker(arch: Architecture) -> Result:
    assert _WORKER_EVALUATOR is not None
    return evaluate_safely(_WORKER_EVALUATOR, arch)


@EXECUTORS.register("process")
class ProcessExecutor(Executor):
    """``workers`` processes on this machine (spawned, so CUDA and OpenMP are safe), each with
    ``cpus_per_trial`` torch threads and passive OpenMP waiting unless the user set a policy
    (``nasforge.threads``: workers share cores, where spin-waiting collapses). A worker that
    dies (killed, out of memory) breaks the pool: it is rebuilt and the trials in flight are
    retried, each at most ``max_retries`` times, then reported failed."""

    def __init__(self, workers: int = 2, cpus_per_trial: int = 1, max_retries: int = 2) -> None:
        available = os.cpu_count() or 1
        if workers < 1 or cpus_per_trial < 1 or max_retries < 0:
            raise ConfigError("executor.workers and executor.cpus_per_trial must be >= 1, "
                              "executor.max_retries >= 0")
        if workers * cpus_per_trial > 4 * available:
            raise ConfigError(f"executor asks for {workers} workers x {cpus_per_trial} CPUs, "
                              f"this machine has {available} CPUs")
        self.capacity, self.threads, self.max_retries = workers, cpus_per_trial, max_retries
        self.pool: cf.ProcessPoolExecutor | None = None
        self.futures: dict[cf.Future[Result], tuple[int, Architecture]] = {}
        self.retries: dict[int, int] = {}
        self.ready: deque[tuple[int, Result]] = deque()  # failed without a future

    def start(self, evaluator: Evaluator) -> None:
        super().start(evaluator)
        self._new_pool()

    def _new_pool(self) -> None:
        context = multiprocessing.get_context("spawn")
        with child_environment(self.threads):
            self.pool = cf.ProcessPoolExecutor(self.capacity, mp_context=context,
                                               initializer=_init_worker,
                                               initargs=(self.evaluator, self.threads))

    def submit(self, trial_id: int, arch: Architecture) -> None:
        try:
            self._submit(trial_id, arch)
        except cf.process.BrokenProcessPool:  # a worker died before we noticed
            self._recover()
            self._submit(trial_id, arch)

    def _submit(self, trial_id: int, arch: Architecture) -> None:
        assert self.pool is not None
        # the pool spawns its workers (and its manager thread) on demand, here: not to be cut
        # by an interrupt, which would leave a pool that cannot even shut down
        with child_environment(self.threads), _sigint_blocked(), interrupts.deferred():
            self.futures[self.pool.submit(_evaluate_in_worker, arch)] = (trial_id, arch)

    def wait(self) -> tuple[int, Result]:
        while True:
            if self.ready:
                return self.ready.popleft()
            done, _ = cf.wait(self.futures, return_when=cf.FIRST_COMPLETED)
            future = next(iter(done))
            try:
                result = future.result()
            except cf.process.BrokenProcessPool:
                self._recover()
                continue
            trial_id, _ = self.futures.pop(future)
            return trial_id, result

    def _recover(self) -> None:
        """A worker died and broke the pool: rebuild it. Which trial killed it is unknown, so
        every trial in flight counts one retry; those out of retries are failed, the others
        run again."""
        pending = [self.futures.pop(f) for f in list(self.futures)]
        self._new_pool()
        for trial_id, arch in pending:
            tries = self.retries[trial_id] = self.retries.get(trial_id, 0) + 1
            if tries > self.max_retries:
                log.warning("trial %d failed: its worker died %d times", trial_id, tries)
                self.ready.append((trial_id, Result.failed(f"worker died {tries} times")))
            else:
                log.warning("trial %d: worker died, retry %d of %d", trial_id, tries,
                            self.max_retries)
                self._submit(trial_id, arch)

    def close(self) -> None:
        if self.pool is not None:
            if self.futures:  # stopped mid-trial (Ctrl-C, SIGTERM, an error): do not wait for
                # those trials (resume runs them again); concurrent.futures has no public kill
                for process in list(getattr(self.pool, "_processes", {}).values()):
                    process.terminate()
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
            self.futures.clear()
