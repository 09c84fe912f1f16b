"""Ctrl-C and SIGTERM as exceptions raised where Python code can handle them: never inside an
import (nor inside a finalizer, where it would be printed and dropped). An interrupt raised
in the middle of an import leaves that module half initialised
(a later use then fails with an unrelated error: a RecursionError from numpy's lazy import, a
ValueError from a package's unpacking, both seen when a search was interrupted in its first
second), and some packages swallow it while they import. So a signal that lands while an
import is running is delivered when the import is done (re-checked every 20 ms by SIGALRM).
"""

from __future__ import annotations

import signal
from types import FrameType

from nasforge.errors import Terminated

_pending: list[type[KeyboardInterrupt]] = []
RETRY_SECONDS = 0.02


def install() -> None:
    """From now on, SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated (even where
    a parent ignored SIGINT: nohup, some CI runners), outside imports."""
    signal.signal(signal.SIGINT, _handler(KeyboardInterrupt))
    signal.signal(signal.SIGTERM, _handler(Terminated))
    signal.signal(signal.SIGALRM, _retry)


def _handler(kind: type[KeyboardInterrupt]):  # noqa: ANN202  (a signal handler)
    def handle(signum: int, frame: FrameType | None) -> None:
        del signum
        _pending.append(kind)
        _deliver(frame)
    return handle


def _retry(signum: int, frame: FrameType | None) -> None:
    del signum
    if _pending:
        _deliver(frame)


def _deliver(frame: FrameType | None) -> None:
    """Raise the first pending interrupt now, or later if an import or a finalizer is
    running (an exception raised in ``__del__`` is printed and dropped: the interrupt would
    be lost)."""
    if _unsafe(frame):
        signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
        return
    kind = _pending[0]
    _pending.clear()
    raise kind


def _unsafe(frame: FrameType | None) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith("<frozen importlib") or code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False
