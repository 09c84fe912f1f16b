"""One progress display for every phase that takes more than a few seconds.

The rule, the same for ask/tell and one-shot runs, ``nasforge train`` and the Python API:
``progress=True`` draws a tqdm bar, ``False`` shows nothing, ``None`` (the default) draws a
bar when stderr is a terminal and otherwise logs a line (logger ``nasforge.progress``, INFO)
at most every ``LOG_EVERY`` seconds and when the phase ends, so a run in a pipe or a batch
job is not silent for minutes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from tqdm.auto import tqdm

log = logging.getLogger("nasforge.progress")
LOG_EVERY = 10.0  # seconds between two log lines of one phase


def shows_bar(progress: bool | None) -> bool:
    """Whether ``progress`` means a drawn bar (explicitly, or a terminal on stderr)."""
    return sys.stderr.isatty() if progress is None else progress


class Progress:
    """A bar (or log lines) for one phase: ``advance(n)`` counts work done, ``status(text)``
    says what is happening (e.g. "edge 2<-1 -> conv_3x3", "best 91.23").

    Note: with a ``total``, the count never passes it. tqdm drops a total that the count
    exceeds, and a bar format that formats the total then fails (a search with a seconds
    budget whose last evaluation crosses it)."""

    def __init__(self, desc: str, total: float | None = None, *, unit: str = "it",
                 progress: bool | None = None, initial: float = 0, leave: bool = True,
                 log_every: float = LOG_EVERY) -> None:
        self.desc, self.total, self.unit, self.leave = desc, total, unit, leave
        self.logs = progress is None and not sys.stderr.isatty()
        self.count = self._capped(initial)
        self.text = ""
        self.log_every, self.last_log = log_every, time.monotonic()
        self.bar = tqdm(total=total, initial=self.count, unit=unit, desc=desc, leave=leave,
                        disable=not shows_bar(progress), bar_format=_bar_format(total, unit),
                        dynamic_ncols=True)

    def _capped(self, count: float) -> float:
        return count if self.total is None else min(count, self.total)

    def advance(self, n: float = 1, status: str | None = None) -> None:
        step = self._capped(self.count + n) - self.count
        self.count += step
        if status is not None:
            self.status(status, refresh=False)
        self.bar.update(step)
        if self.logs and time.monotonic() - self.last_log >= self.log_every:
            self._log()

    def status(self, text: str, refresh: bool = True) -> None:
        self.text = text
        self.bar.set_postfix_str(text, refresh=refresh)

    def _log(self) -> None:
        self.last_log = time.monotonic()
        done = f"{self.count:.0f}" + ("" if self.total is None else f"/{self.total:.0f}")
        units = self.unit if self.unit == "s" else f"{self.unit}s"
        log.info("%s: %s %s%s", self.desc, done, units, f", {self.text}" if self.text else "")

    def close(self) -> None:
        if self.logs and self.leave:  # a passing inner phase: its outer phase reports
            self._log()
        self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:  # no last log line for a phase that did not end
            self.bar.close()


def _bar_format(total: float | None, unit: str) -> str | None:
    """Counts of seconds as whole numbers ("3400/12000 s"); tqdm's default otherwise."""
    if total is None or unit != "s":
        return None
    return "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"


@contextmanager
def progress_logging(progress: bool | None) -> Iterator[None]:
    """Show the progress log lines of a Python call with ``progress=None`` off a terminal.

    The CLI configures logging; a script or notebook usually has not, and Python then drops
    INFO lines, so a long search would be silent. Where nothing is configured (no handler on
    the root logger or on ``nasforge``), a plain stderr handler shows ``nasforge.progress``
    for the duration of the call; a user's own logging setup is left alone."""
    quiet = progress is not None or sys.stderr.isatty()
    if quiet or logging.getLogger().handlers or logging.getLogger("nasforge").handlers:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
