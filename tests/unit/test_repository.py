"""The repository stays light: ``benchmarks/state/`` holds only the snapshots of benchmark runs
still in flight, and those only what a resume reads (``benchmarks/carry.py``); a finished run
keeps its results in ``benchmarks/results/``, not its run directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / "benchmarks" / "state"
LIMIT_BYTES = 10_000_000  # 10 MB


def state_files() -> list[Path]:
    """The files of ``benchmarks/state`` on disk that git tracks or would add (untracked, not
    ignored); every file there when this is not a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
             "benchmarks/state"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return [path for path in STATE.rglob("*") if path.is_file()]
    paths = (REPO / name for name in listed.decode().split("\0") if name)
    return [path for path in paths if path.is_file()]  # a deleted tracked file is gone


def test_benchmark_state_stays_under_10_mb() -> None:
    sizes = {path: path.stat().st_size for path in state_files()}
    total = sum(sizes.values())
    largest = sorted(sizes, key=sizes.__getitem__, reverse=True)[:5]
    assert total <= LIMIT_BYTES, (
        f"benchmarks/state holds {total / 1e6:.1f} MB (at most {LIMIT_BYTES / 1e6:.0f}): "
        "release the snapshots of finished runs (carry.release); largest: "
        + ", ".join(f"{p.relative_to(REPO)} {sizes[p] / 1e6:.1f} MB" for p in largest))
