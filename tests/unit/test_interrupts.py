"""Interrupts are raised where code can handle them: a Ctrl-C or SIGTERM that lands inside an
import (or a finalizer) is raised once it is done, never leaving a module half imported."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from nasforge import interrupts
from nasforge.errors import Terminated

MODULE = """\
import signal
signal.raise_signal(signal.{name})  # lands in the middle of this module's import
COMPLETE = True
"""


@pytest.fixture
def handlers():
    saved = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)]
    interrupts.install()
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    for s, handler in zip((signal.SIGINT, signal.SIGTERM, signal.SIGALRM), saved, strict=True):
        signal.signal(s, handler)


@pytest.mark.parametrize("name, kind", [("SIGINT", KeyboardInterrupt), ("SIGTERM", Terminated)])
def test_an_interrupt_during_an_import_lands_after_it(name, kind, tmp_path: Path, handlers,
                                                      monkeypatch) -> None:
    module = f"half_imported_{name.lower()}"
    (tmp_path / f"{module}.py").write_text(MODULE.format(name=name))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(kind):
        __import__(module)
        signal.pause()  # the interrupt is raised within 20 ms of the import's end
    assert sys.modules[module].COMPLETE  # the module finished importing


def test_an_interrupt_outside_imports_is_raised_at_once(handlers) -> None:
    with pytest.raises(Terminated):
        signal.raise_signal(signal.SIGTERM)


def test_an_interrupt_inside_a_deferred_block_is_raised_at_its_end(handlers) -> None:
    done = []
    with pytest.raises(Terminated), interrupts.deferred():
        signal.raise_signal(signal.SIGTERM)
        done.append("the block ran to its end")
    assert done


def test_an_interrupt_in_a_weakref_callback_is_not_lost(handlers) -> None:
    import weakref

    class Thing:
        pass

    thing = Thing()
    weakref.finalize(thing, signal.raise_signal, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        del thing  # the callback runs inside weakref.py: the interrupt waits, then lands
        signal.pause()
