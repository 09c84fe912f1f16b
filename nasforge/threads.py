"""How our processes' OpenMP threads wait, and how many there are.

OpenMP (under torch's CPU ops) by default spins a waiting thread for a while before sleeping.
On cores shared with any other busy process that is a pathology: each of the thousands of
small parallel regions of a training step waits for a descheduled sibling thread, and a
2-thread step of a small network measured here took 37x its time alone (1.46 s instead of
39 ms) beside one CPU-bound competitor; with ``OMP_WAIT_POLICY=PASSIVE`` it took about twice
its time alone, the fair share. The policy is read once, when torch loads its OpenMP runtime,
so it must be in the environment before ``import torch``.

So every process nasforge starts gets passive waiting unless the user chose a policy: the CLI
(before any command imports torch) and each worker of the ``process`` and ``ray`` executors
and of data-parallel launches, whose thread count follows its CPU share. A Python user's own
process is theirs: ``search`` warns (once) when torch was loaded with active waiting and more
threads than the machine has free cores.

This module is on the ground floor: it imports neither torch nor anything of nasforge.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

WAIT_POLICY = "OMP_WAIT_POLICY"
THREAD_COUNTS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # the OpenMP and MKL pool sizes


def prefer_passive_waiting(environ: MutableMapping[str, str] | None = None) -> None:
    """Passive waiting for this process (if torch is not loaded yet) and its children, unless
    the user set a policy."""
    (os.environ if environ is None else environ).setdefault(WAIT_POLICY, "PASSIVE")


def worker_environment(threads: int, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a worker process with ``threads`` CPUs starts with: the user's wait
    policy or passive, and OpenMP / MKL pools of ``threads`` threads (its CPU share, which
    the config chose for this worker, so it wins over a process-wide setting)."""
    environ = os.environ if environ is None else environ
    counts = dict.fromkeys(THREAD_COUNTS, str(max(1, threads)))
    return {WAIT_POLICY: environ.get(WAIT_POLICY, "PASSIVE"), **counts}


@contextmanager
def child_environment(threads: int) -> Iterator[None]:
    """Within the block, processes started from here (spawned workers inherit the
    environment) get ``worker_environment(threads)``; this process's own environment is
    restored afterwards."""
    saved = {name: os.environ.get(name) for name in (WAIT_POLICY, *THREAD_COUNTS)}
    os.environ.update(worker_environment(threads))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def free_cores() -> float:
    """Cores not busy over the last minute (load average), or all when unknown (Windows)."""
    cores = os.cpu_count() or 1
    try:
        return max(0.0, cores - os.getloadavg()[0])
    except (AttributeError, OSError):
        return float(cores)


def contention_warning() -> str | None:
    """Why this process may crawl on shared cores, if it can be told cheaply: torch already
    loaded with active waiting and more threads than free cores; else None."""
    torch = sys.modules.get("torch")
    policy = os.environ.get(WAIT_POLICY, "").strip().upper()
    if torch is None or policy == "PASSIVE":
        return None
    if torch.get_num_threads() <= max(1, round(free_cores())):
        return None
    # One fixed text: the warnings module then shows it once per process.
    return ("torch runs more threads than this machine has free cores, with OpenMP's active "
            "waiting: training may be many times slower. Set OMP_WAIT_POLICY=PASSIVE before "
            "importing torch (the nasforge CLI does), or lower torch.set_num_threads")


def warn_if_contended() -> None:
    """Warn (once per process: one text from one place) when ``contention_warning`` says."""
    message = contention_warning()
    if message is not None:
        warnings.warn(message, RuntimeWarning, stacklevel=1)
