"""Ctrl-C and SIGTERM in a command: the run spine records the run as "interrupted" (everything
finished is already stored), the command says how to continue, and exits 130 (SIGINT) or 143
(SIGTERM), the statuses a shell gives a process those signals end."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from nasforge import interrupts
from nasforge.errors import Terminated
from nasforge.run.store import STORE_NAME

EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


@contextmanager
def interrupts_end_the_run(run_dir: Path | None) -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM end the command cleanly: one line on stderr
    (with the command that resumes ``run_dir``, once the run has started), then exit 130 or
    143."""
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), \
        signal.getsignal(signal.SIGALRM)
    interrupts.install()  # never inside an import (nasforge.interrupts says why)
    try:
        yield
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        started = run_dir is not None and any(
            (run_dir / name).is_file() for name in (STORE_NAME, "config.yaml"))
        where = f"; finished work is kept in {run_dir}" if started else ""
        hint = f"; continue with: nasforge search --resume {run_dir}" if started else ""
        click.echo(f"interrupted ({'SIGTERM' if terminated else 'Ctrl-C'}){where}{hint}",
                   err=True)
        raise SystemExit(EXIT_SIGTERM if terminated else EXIT_SIGINT) from None
    finally:
        for signum, handler in zip((signal.SIGTERM, signal.SIGINT, signal.SIGALRM), previous,
                                   strict=True):
            signal.signal(signum, handler)
