"""Plots of one-shot searches: architecture weights over training."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure


def plot_alpha(history: Sequence[np.ndarray], edges: Sequence[str],
               ops: Sequence[Sequence[str]], path: Path) -> Path | None:
    """Left: the final op weights (edges x ops) as a heatmap. Right: each op's weight,
    averaged over the edges that have it, after every epoch."""
    fig = alpha_figure(history, edges, ops)
    if fig is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def alpha_figure(history: Sequence[np.ndarray], edges: Sequence[str],
                 ops: Sequence[Sequence[str]]) -> Figure | None:
    """The figure of :func:`plot_alpha`; None without history."""
    if not history:
        return None
    names = sorted({op for row in ops for op in row})
    fig = Figure(figsize=(11, max(3.0, 0.28 * len(edges) + 1.5)), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[1.2, 1])
    _alpha_heatmap(fig, left, alpha_grid(history[-1], ops, names), edges, names)
    _alpha_curves(right, history, ops, names)
    return fig


def alpha_grid(weights: np.ndarray, ops: Sequence[Sequence[str]], names: Sequence[str]
               ) -> np.ndarray:
    """(edges, names) weights, NaN where an edge lacks the op (edges may offer different
    ops, e.g. DARTS-PT after some edges were decided)."""
    weights = np.asarray(weights)  # (edges, width)
    grid = np.full((len(ops), len(names)), np.nan)
    for e, row in enumerate(ops):
        for i, op in enumerate(row):
            grid[e, names.index(op)] = weights[e, i]
    return grid


def _alpha_heatmap(fig: Figure, ax: Axes, grid: np.ndarray, edges: Sequence[str],
                   names: Sequence[str]) -> None:
    """Colours span the data's own min..max, not 0..max: softmax weights of a short search
    sit near 1/len(ops) everywhere, and from 0 they would all look one colour. Each cell
    carries its value, since the stretched colours alone overstate small gaps."""
    finite = grid[np.isfinite(grid)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    norm = Normalize(vmin=low, vmax=high if high > low else low + 1e-12)
    image = ax.imshow(grid, cmap="viridis", aspect="auto", norm=norm)
    if len(edges) * len(names) <= 400:  # beyond that the numbers would not be legible
        _annotate(ax, grid, norm, digits=value_digits(high - low))
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(edges)), edges, fontsize=7)
    ax.set_title("op weights after the last epoch (colour: min to max of these)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="op weight")


def _annotate(ax: Axes, grid: np.ndarray, norm: Normalize, digits: int) -> None:
    """Each cell's value, dark on the bright end of viridis and white on the dark end."""
    size = 7 if grid.shape[0] <= 16 else 5
    for (e, i), value in np.ndenumerate(grid):
        if np.isfinite(value):
            colour = "black" if norm(value) > 0.6 else "white"
            ax.text(i, e, f"{value:.{digits}f}", ha="center", va="center", fontsize=size,
                    color=colour)


def value_digits(span: float) -> int:
    """Decimals that cut the weights' span into at least 5 steps, so neighbours differ in
    print (weights 0.1995..0.2006 need 4, 0.121..0.127 need 3), between 2 and 5."""
    if not span > 0:
        return 2
    return int(min(5, max(2, math.ceil(math.log10(5 / span)))))


def _alpha_curves(ax: Axes, history: Sequence[np.ndarray], ops: Sequence[Sequence[str]],
                  names: Sequence[str]) -> None:
    """Each op's weight, averaged over the edges that have it, per epoch."""
    from nasforge.report.plots import integer_ticks

    for op in names:
        curve = [_mean_weight(np.asarray(h), ops, op) for h in history]
        ax.plot(range(1, len(history) + 1), curve, marker=".", label=op)
    integer_ticks(ax.xaxis)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean weight over edges")
    ax.set_title("op weights over training")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _mean_weight(weights: np.ndarray, ops: Sequence[Sequence[str]], op: str) -> float:
    values = [weights[e, row.index(op)] for e, row in enumerate(ops) if op in row]
    return float(np.mean(values)) if values else float("nan")


def plot_generations(history: Sequence[dict[str, float]], path: Path) -> Path | None:
    """Per generation of an evolutionary search: the best and the top-k mean score so far,
    and (right axis) the candidates evaluated and rejected by the constraints so far."""
    if not history:
        return None
    from nasforge.report.plots import integer_ticks, new_figure, save_figure

    gen = np.array([row["generation"] + 1 for row in history])
    fig = new_figure(6.5, 4.0)
    ax = fig.subplots()
    ax.plot(gen, [row["best"] for row in history], "o-", label="best so far")
    ax.plot(gen, [row["top_k_mean"] for row in history], "s--", label="top-k mean")
    ax.set_xlabel("generation")
    integer_ticks(ax.xaxis)
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
    from nasforge.report.plots import integer_ticks, new_figure, save_figure

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
        integer_ticks(ax.xaxis)
        ax.set_title(f"supernet training: {title}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)
