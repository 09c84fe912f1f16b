"""Faults at random moments of a run's whole life (``benchmarks/faults.py``, which runs 200 of
them): Ctrl-C, SIGTERM and kill -9 from the first milliseconds to the report, each run then
continued as a user would, to the trial sequence of the uninterrupted run, with clean exits
(130 / 143, one line, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_interrupted_runs_continue_to_the_uninterrupted_sequence(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    proc = subprocess.run([sys.executable, "benchmarks/faults.py", "--injections", "4",
                           "--scenarios", "table", "--seed", "11", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    result = json.loads(out.read_text())
    assert result["total"]["injections"] == 4, proc.stderr[-2000:]
    failed = [r for r in result["injections"] if not (r["resumed"] and r["clean_exit"])]
    assert not failed, failed
