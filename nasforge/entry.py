"""The ``nasforge`` command's entry point: Ctrl-C and SIGTERM are handled from its first line,
so an interrupt while the command is still starting (importing click, torch, the package)
ends it with one line and exit status 130 / 143, not a traceback. Only the interpreter's own
start-up, before this module runs, is out of its reach (a few tens of milliseconds)."""

from __future__ import annotations

import signal
import sys

from nasforge import interrupts
from nasforge.errors import Terminated

EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


def run() -> None:
    """Install the handlers, then import and run the command line."""
    interrupts.install()
    try:
        from nasforge.cli import main

        main()
    except KeyboardInterrupt as exc:  # landed outside a command's own handling
        terminated = isinstance(exc, Terminated)
        print(f"interrupted ({'SIGTERM' if terminated else 'Ctrl-C'})", file=sys.stderr)
        raise SystemExit(EXIT_SIGTERM if terminated else EXIT_SIGINT) from None
    finally:  # the command has ended (its work stored): the interpreter shuts down quietly
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
