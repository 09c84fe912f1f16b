"""Plots of the RL controller's training: reward, baseline and policy entropy per update."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nasforge.report.plots import integer_ticks, new_figure, save_figure


def plot_controller(history: Sequence[dict[str, float]], path: Path) -> Path | None:
    """Left: mean and max reward of each controller batch and the moving-average baseline.
    Right: the mean per-token entropy of the policy (falls as the controller converges), and
    the depth of the curriculum where it changes."""
    rows = [row for row in history if "reward_mean" in row]
    if not rows:
        return None
    told = np.array([row["told"] for row in rows])
    fig = new_figure(11.0, 4.0)
    left, right = fig.subplots(1, 2)
    left.plot(told, [row["reward_mean"] for row in rows], label="batch mean reward")
    left.plot(told, [row["reward_max"] for row in rows], ":", label="batch max reward")
    left.plot(told, [row["baseline"] for row in rows], "--", label="baseline (EMA)")
    left.set_xlabel("architectures told")
    left.set_ylabel("reward")
    left.legend(fontsize=8)
    left.grid(True, alpha=0.3)
    right.plot(told, [row["entropy"] for row in rows], color="tab:purple")
    right.set_xlabel("architectures told")
    right.set_ylabel("policy entropy per token (nats)")
    right.grid(True, alpha=0.3)
    for ax in (left, right):  # counts of architectures: no 2.5th
        integer_ticks(ax.xaxis)
    depth = [row["depth"] for row in rows]
    if depth and max(depth) > 0 and len(set(depth)) > 1:
        twin = right.twinx()
        twin.step(told, depth, where="post", color="gray", alpha=0.6)
        twin.set_ylabel("curriculum depth")
    return save_figure(fig, path)
