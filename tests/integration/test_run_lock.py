"""One process at a time per run directory: a second search or resume of a live run is
refused with one line naming the process; a run whose process died shows as interrupted
(process gone); two resumes started together: one runs, one is refused, no trial twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import nasforge

TINY = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 600, train_size: 200, batch_size: 50}
evaluator: {name: train, epochs: 2}
strategy: {name: random}
budget: {trials: 5}
"""


def archs(run: Path) -> list[str]:
    with sqlite3.connect(run / "trials.sqlite") as db:
        return [r[0] for r in db.execute("SELECT arch FROM trials WHERE status='ok' ORDER BY id")]


def count(run: Path) -> int:
    try:
        return len(archs(run))
    except sqlite3.Error:
        return 0


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "nasforge", "search", *args], cwd=cwd,
                            env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lock")
    (path / "tiny.yaml").write_text(TINY)
    nasforge("search", "tiny.yaml", "--out", "reference", cwd=path)
    return path


def test_a_live_run_is_refused_then_continued_once(workdir: Path) -> None:
    run = workdir / "live"
    first = start(["tiny.yaml", "--out", str(run)], workdir)
    deadline = time.time() + 120
    while count(run) < 1 and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGSTOP)  # paused mid-search: alive, holding its lock
    try:
        for args in (["--resume", str(run)], ["tiny.yaml", "--out", str(run)]):
            second = nasforge("search", *args, cwd=workdir, check=False)
            assert second.returncode == 2, second.stderr
            assert f"is in use by process {first.pid}" in second.stderr, second.stderr
        listing = nasforge("runs", "list", ".", cwd=workdir).stdout
        assert any(line.startswith("live") and " running " in line
                   for line in listing.splitlines()), listing
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert count(run) < 5, "the run should have been killed mid-search"
    shown = nasforge("runs", "show", str(run), cwd=workdir).stdout
    assert "interrupted (process gone)" in shown and "--resume" in shown
    both = [start(["--resume", str(run)], workdir) for _ in range(2)]
    codes = sorted(p.wait(timeout=300) for p in both)
    errors = [p.stderr.read() for p in both if p.stderr is not None]
    assert codes == [0, 2], errors
    assert archs(run) == archs(workdir / "reference")  # nothing lost, nothing twice
