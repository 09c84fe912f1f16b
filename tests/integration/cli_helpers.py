"""Running the command line in a subprocess, and killing a run at a chosen moment."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
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


def nasforge_pty(*args: str, cwd: Path, size: tuple[int, int] = (100, 40),
                 timeout: float = 300, on_tick: Callable[[str, int], None] | None = None
                 ) -> tuple[int, str]:
    """Run ``nasforge ARGS`` in a pseudo-terminal of ``size`` (columns, rows), as a person
    would in a terminal, and return its exit status and everything it wrote. The size
    matters: in a zero-sized pty tqdm draws nothing, and terminal-only code would not run.
    ``on_tick(text so far, pid)`` is called every 0.1 s (e.g. to press Ctrl-C: the child
    leads its own process group, as a shell's foreground job does)."""
    return run_pty([sys.executable, "-m", "nasforge", *args], cwd=cwd, size=size,
                   timeout=timeout, on_tick=on_tick)


def python_pty(code: str, *, cwd: Path, size: tuple[int, int] = (100, 40),
               timeout: float = 300) -> tuple[int, str]:
    """Run a Python script in a pseudo-terminal of ``size``, as in a person's terminal
    (the Python API's terminal-only code paths: progress bars)."""
    return run_pty([sys.executable, "-c", code], cwd=cwd, size=size, timeout=timeout)


def run_pty(argv: list[str], *, cwd: Path, size: tuple[int, int], timeout: float,
            on_tick: Callable[[str, int], None] | None = None) -> tuple[int, str]:
    master, slave = pty.openpty()
    columns, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": str(rows), "TERM": "xterm"}
    proc = subprocess.Popen(argv, cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)  # the child holds it now: reading the master gives EOF once it exits
    chunks: list[bytes] = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if on_tick is not None:
                on_tick(b"".join(chunks).decode(errors="replace"), proc.pid)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
        status = proc.wait(timeout=30)
    finally:
        os.close(master)
    return status, b"".join(chunks).decode(errors="replace")
