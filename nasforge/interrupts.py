"""Ctrl-C and SIGTERM as exceptions raised where Python code can handle them: never inside an
import, a finalizer or a block that asks (``deferred``: the report's drawing). An interrupt
raised in the middle of an import leaves that module half initialised
(a later use then fails with an unrelated error: a RecursionError from numpy's lazy import, a
ValueError from a package's unpacking, both seen when a search was interrupted in its first
second), one raised in a finalizer or a weak-reference callback is printed and dropped, and
matplotlib's renderer turns one raised in its callbacks into a ValueError. So a signal that
lands there is delivered when that code is done (re-checked every 20 ms by SIGALRM).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

from nasforge.errors import Terminated

_pending: list[type[KeyboardInterrupt]] = []
_held = [0]  # depth of ``deferred()`` blocks
RETRY_SECONDS = 0.02
# Code an exception must not be raised into: imports (a module left half initialised), and
# finalizers and weak-reference callbacks (Python prints such an exception and drops it).
UNSAFE_FILES = ("<frozen importlib", "/weakref.py", "/_weakrefset.py")


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block an interrupt must not cut (e.g. drawing the report with matplotlib, whose C++
    renderer turns an exception raised in its Python callbacks into an unrelated error): a
    signal that lands inside it is raised when it ends."""
    _held[0] += 1
    try:
        yield
    finally:
        _held[0] -= 1
    if _pending and not _held[0]:
        kind = _pending[0]
        _pending.clear()
        raise kind


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
    """Raise the first pending interrupt now, or later if an import, a finalizer or a
    ``deferred()`` block is running."""
    if _held[0]:
        return  # raised when the block ends
    if _unsafe(frame):
        signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
        return
    kind = _pending[0]
    _pending.clear()
    raise kind


def _unsafe(frame: FrameType | None) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or any(
                marker in code.co_filename for marker in UNSAFE_FILES):
            return True
        frame = frame.f_back
    return False
