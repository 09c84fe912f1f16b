"""Plots of PGNAS runs: error vs the number of sampled candidates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasforge.report.plots import new_figure, save_figure


def plot_candidates(curve: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Valid and test error of the best of the first C candidates, C on a log axis (the
    paper's Table 6 as a curve)."""
    if not curve:
        return None
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    count = [row["candidates"] for row in curve]
    ax.plot(count, [row["valid_error"] for row in curve], "o-", label="valid error (search)")
    ax.plot(count, [row["test_error"] for row in curve], "s--", label="test error")
    ax.set_xscale("log")
    ax.set_xlabel("candidates sampled")
    ax.set_ylabel("error of the best candidate (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
