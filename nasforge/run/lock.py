"""An exclusive lock on a run directory for the life of the process that runs it.

``run_dir/.lock`` is locked with ``fcntl.flock``; the kernel releases the lock when the
process ends, however it ends (``kill -9`` included), so a live run is told from a dead one
by trying the lock, never by a status a killed process could not update. The file holds the
holder's PID and start time, for the message that refuses a second process. Only the process
that owns the run directory locks it (rank 0 of a data-parallel group; worker processes of
the process and Ray executors never touch it).

Note: on systems without ``fcntl`` (Windows) runs are not locked.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from nasforge.errors import RunDirError

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class RunLock:
    """Held from :meth:`acquire` until :meth:`release` or the process's end."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise RunDirError naming the process that holds it."""
        if fcntl is None:
            return
        fd = os.open(self.run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            who = _describe(os.pread(fd, 200, 0).decode(errors="replace"))
            os.close(fd)
            raise in_use_error(self.run_dir, who) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def holder(run_dir: Path) -> str | None:
    """'process 1234 (started ...)' when a live process holds ``run_dir``'s lock, else None
    (also where locks are unsupported)."""
    if fcntl is None or not (run_dir / LOCK_NAME).is_file():
        return None
    try:
        fd = os.open(run_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _describe(os.pread(fd, 200, 0).decode(errors="replace"))
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return None


def in_use_error(run_dir: Path, who: str) -> RunDirError:
    return RunDirError(f"{run_dir} is in use by {who}: one process at a time runs a run "
                       "directory")


def _describe(content: str) -> str:
    """'process 1234 (started 12:03:44)' from the lock file's "PID TIME" line."""
    parts = content.split()
    if len(parts) < 2 or not parts[0].isdigit():
        return "another process"
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(parts[1])))
    except ValueError:
        return f"process {parts[0]}"
    return f"process {parts[0]} (started {started})"
