"""Running the command line in a subprocess, and killing a run at a chosen moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def nasforge(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "nasforge", *args], cwd=cwd, text=True,
                          capture_output=True, env=os.environ.copy(), timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"nasforge {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def kill_when(config: str, run: Path, ready: Callable[[Path], bool], cwd: Path) -> None:
    """Start ``nasforge search config --out run``, SIGKILL it once ``ready(run)``, and check
    that it was indeed killed before it finished."""
    proc = subprocess.Popen([sys.executable, "-m", "nasforge", "search", config, "--out",
                             str(run)], cwd=cwd, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not ready(run):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "best.json").is_file(), "the run should have been killed mid-search"


def one_line_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert message in lines[0], lines[0]
