"""``benchmarks/gpu.py --dry-run`` runs every path of the GPU benchmark on the CPU at toy
sizes (every method's command, the step comparison with compilation, the full-size epoch's
code), so a GPU session's few minutes are not spent finding a broken script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_gpu_benchmark_dry_run_passes(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, "benchmarks/gpu.py", "--dry-run", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    names = {c["name"] for c in result["commands"] if c["passed"]}
    assert {"darts", "darts_pt", "fixed_alpha_pt", "spos", "pgnas", "pgnas_resnet",
            "rl_controller", "random_train", "dartspt_cnn", "train_best",
            "reuse_on_cpu"} <= names
    steps = {(row["space"], row["batch"]): row for row in result["steps"]}
    assert all("ours" in row and "ours edge by edge" in row for row in steps.values())
    assert any("ours compiled" in row for row in steps.values())
    assert result["epoch"]["epoch_s"] > 0
    assert "| command | result | seconds |" in out.with_suffix(".md").read_text()
