"""Searches a benchmark runs as a user would (``nasforge search`` in a run directory), started
or continued after a kill, with the wall and CPU time they took summed over their resumes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import REPO


@dataclass
class Clock:
    """Wall and CPU seconds (all threads) a run took, summed over its resumes."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @classmethod
    def read(cls, path: Path) -> Clock:
        return cls(**json.loads(path.read_text())) if path.is_file() else cls()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self)))
        os.replace(tmp, path)


def search(config: Path, run_dir: Path, sets: list[str], clock_file: Path) -> bool:
    """Run ``nasforge search CONFIG --out RUN_DIR --set ...`` to its end, or continue it with
    ``--resume`` if it was started before (its overrides are then the run's own); False if it
    had already finished (nothing ran)."""
    if (run_dir / "best.json").is_file():
        return False
    if (run_dir / "trials.sqlite").is_file():
        command = ["--resume", str(run_dir)]
    else:
        command = [str(config), "--out", str(run_dir), *[a for s in sets for a in ("--set", s)]]
    timed_run([sys.executable, "-m", "nasforge", "search", *command], clock_file)
    return True


def timed_run(command: list[str], clock_file: Path, every: float = 5.0) -> None:
    """Run ``command``, adding its wall and CPU time to ``clock_file`` every few seconds (so a
    killed driver loses at most that much of the count). Ctrl-C (or SIGINT to this driver)
    stops the child the same way, which keeps its finished work, and exits with status 130;
    so does SIGTERM (a driver started in the background ignores SIGINT)."""
    base = Clock.read(clock_file)
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO)
    cpu = 0.0
    code: int | None = None
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while code is None:
            try:
                code = proc.wait(timeout=every)
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:
                interrupted = True
                proc.send_signal(signal.SIGINT)  # the child saves and exits on its own
            cpu = max(cpu, process_cpu_seconds(proc.pid))
            Clock(base.seconds + time.perf_counter() - start, base.cpu_seconds + cpu).write(
                clock_file)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if interrupted:
        raise SystemExit(130)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} exited with {code}")


def _raise_interrupt(signum: int, frame: object) -> None:
    del signum, frame
    raise KeyboardInterrupt


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, all threads (Linux /proc); 0 once it
    has been reaped (the last reading stands)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
