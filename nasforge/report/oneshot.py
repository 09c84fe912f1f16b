"""Plots of one-shot searches: architecture weights over training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_alpha(history: Sequence[np.ndarray], edges: Sequence[str],
               ops: Sequence[Sequence[str]], path: Path) -> Path | None:
    """Left: the final op weights (edges x ops) as a heatmap. Right: each op's weight,
    averaged over the edges that have it, after every epoch."""
    if not history:
        return None
    final = np.asarray(history[-1])  # (edges, width)
    names = sorted({op for row in ops for op in row})
    fig = Figure(figsize=(11, max(3.0, 0.28 * len(edges) + 1.5)), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[1.2, 1])
    grid = np.full((len(edges), len(names)), np.nan)
    for e, row in enumerate(ops):
        for i, op in enumerate(row):
            grid[e, names.index(op)] = final[e, i]
    image = left.imshow(grid, cmap="viridis", aspect="auto", vmin=0)
    left.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    left.set_yticks(range(len(edges)), edges, fontsize=7)
    left.set_title("op weights after the last epoch")
    fig.colorbar(image, ax=left, shrink=0.8)
    for op in names:
        curve = [_mean_weight(np.asarray(h), ops, op) for h in history]
        right.plot(range(1, len(history) + 1), curve, marker=".", label=op)
    right.set_xlabel("epoch")
    right.set_ylabel("mean weight over edges")
    right.set_title("op weights over training")
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _mean_weight(weights: np.ndarray, ops: Sequence[Sequence[str]], op: str) -> float:
    values = [weights[e, row.index(op)] for e, row in enumerate(ops) if op in row]
    return float(np.mean(values)) if values else float("nan")


def plot_generations(history: Sequence[dict[str, float]], path: Path) -> Path | None:
    """Per generation of an evolutionary search: the best and the top-k mean score so far,
    and (right axis) the candidates evaluated and rejected by the constraints so far."""
    if not history:
        return None
    from nasforge.report.plots import new_figure, save_figure

    gen = np.array([row["generation"] + 1 for row in history])
    fig = new_figure(6.5, 4.0)
    ax = fig.subplots()
    ax.plot(gen, [row["best"] for row in history], "o-", label="best so far")
    ax.plot(gen, [row["top_k_mean"] for row in history], "s--", label="top-k mean")
    ax.set_xlabel("generation")
    ax.set_ylabel("valid_acc (inherited weights)")
    ax.grid(True, alpha=0.3)
    right = ax.twinx()
    right.plot(gen, [row["evaluated"] for row in history], ":", color="gray",
               label="evaluated")
    right.plot(gen, [row["rejected"] for row in history], ":", color="tab:red",
               label="rejected (constraints)")
    right.set_ylabel("candidates")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right", fontsize=8)
    return save_figure(fig, path)


def plot_history(history: Sequence[dict[str, float]], path: Path) -> Path | None:
    """The supernet's training per epoch (``history.json``): losses on the left, accuracies
    (%) in the middle, anything else it logged (lr, regulariser, mean drop p) on the right."""
    if len(history) < 1:
        return None
    from nasforge.report.plots import new_figure, save_figure

    keys = [k for k in history[-1] if k != "epoch"]
    groups = [(title, [k for k in keys if test(k)]) for title, test in (
        ("loss", lambda k: "loss" in k or "nll" in k),
        ("accuracy (%)", lambda k: k.endswith("_acc")),
        ("other", lambda k: not ("loss" in k or "nll" in k or k.endswith("_acc"))))]
    groups = [(title, names) for title, names in groups if names]
    if not groups:
        return None
    fig = new_figure(4.2 * len(groups) + 0.6, 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(groups)))
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    for ax, (title, names) in zip(axes, groups, strict=True):
        for name in names:
            ax.plot(epochs, [row.get(name, np.nan) for row in history], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"supernet training: {title}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)
