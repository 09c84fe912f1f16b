"""Run reports (HTML + PNG plots)."""

from pathlib import Path

from nasforge.spaces.base import SearchSpace


def write_report(run_dir: Path, space: SearchSpace) -> Path:
    path = run_dir / "report.html"
    path.write_text("<html><body>report pending</body></html>")
    return path
