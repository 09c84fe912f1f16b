"""PNG plots of a run: search progress and accuracy vs model size.

Figures are drawn with matplotlib's object API on an Agg canvas: no pyplot, no global backend
switch, so importing or running this never changes the user's matplotlib state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nasforge.evaluators.base import OBJECTIVE
from nasforge.report.data import TEST_METRIC, Progress, signal_of
from nasforge.run.store import Trial

DPI = 100
SIGNAL_LABEL = f"{OBJECTIVE} (search signal)"


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (independent of pyplot and the global backend)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG (creating the folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def plot_progress(prog: Progress, path: Path) -> Path:
    """Best-so-far signal vs trial number (left) and vs cumulative cost (right)."""
    return save_figure(progress_figure(prog), path)


def progress_figure(prog: Progress) -> Figure:
    """The figure of :func:`plot_progress` (kept apart so tests can read its axes)."""
    fig = new_figure(11.0, 4.2)
    left, right = fig.subplots(1, 2, sharey=True)
    _progress_panel(left, prog.trial_no, prog, "trial")
    _progress_panel(right, prog.cum_cost, prog, "cumulative cost (s)")
    integer_ticks(left.xaxis)
    left.set_ylabel(SIGNAL_LABEL)
    left.set_title("best so far vs trials")
    right.set_title("best so far vs cumulative cost")
    _set_ylim(left, prog)
    right.legend(loc="lower right", fontsize=9)
    return fig


def integer_ticks(axis: Axis) -> None:
    """Ticks on whole numbers only: trials, epochs and generations have no 1.5th (a short
    run would otherwise get ticks at 1.2, 1.4, ...)."""
    axis.set_major_locator(MaxNLocator(integer=True))


def _progress_panel(ax: Axes, x: np.ndarray, prog: Progress, xlabel: str) -> None:
    """One panel: every trial's signal faintly, the best-so-far line, its test accuracy."""
    alpha = min(0.6, max(0.15, 25 / max(len(x), 1)))  # fainter as the cloud gets denser
    ax.scatter(x, prog.signal, s=10, color="tab:blue", alpha=alpha, linewidths=0,
               label="trial", zorder=1)
    ax.plot(x, prog.best, drawstyle="steps-post", color="tab:blue", linewidth=2,
            label=f"best {OBJECTIVE}", zorder=3)
    if prog.has_test:
        ax.plot(x, prog.best_test, drawstyle="steps-post", color="tab:orange", linewidth=1.5,
                linestyle="--", label=f"{TEST_METRIC} of best", zorder=2)
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)


def _set_ylim(ax: Axes, prog: Progress) -> None:
    """Limits that hold every trial, however low: a dot cut off the chart is a trial the
    reader cannot see (the best-so-far line may get flatter; the report shows what ran)."""
    values = np.concatenate([prog.signal, prog.best, prog.best_test])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low) or 0.5
    ax.set_ylim(low - pad, high + pad)


def size_columns(trials: Sequence[Trial]) -> list[str]:
    """Which of 'params' and 'flops' some finished trial with a signal reports."""
    scored = [t for t in trials if np.isfinite(signal_of(t))]
    return [name for name in ("params", "flops")
            if any(getattr(t.result, name) is not None for t in scored)]


def plot_size(trials: Sequence[Trial], best: Trial | None, path: Path) -> Path | None:
    """Signal vs params (and vs FLOPs) of every scored trial; None if no sizes are known."""
    columns = size_columns(trials)
    if not columns:
        return None
    fig = new_figure(5.5 * len(columns) + 0.8, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(columns), sharey=True))
    for ax, name in zip(axes, columns, strict=True):
        mappable = _size_panel(ax, trials, best, name)
    axes[0].set_ylabel(SIGNAL_LABEL)
    fig.colorbar(mappable, ax=list(axes), label="trial id")
    return save_figure(fig, path)


def pareto_front(size: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points no other point beats on both counts (smaller size, higher score), by size."""
    order = np.lexsort((-score, size))
    xs, ys, best = [], [], -np.inf
    for i in order:
        if score[i] > best:
            xs.append(size[i])
            ys.append(score[i])
            best = score[i]
    return np.array(xs), np.array(ys)


def _size_panel(ax: Axes, trials: Sequence[Trial], best: Trial | None, name: str
                ) -> PathCollection:
    """Scatter of signal vs one size column, coloured by trial id; the best as a red star."""
    pts = [(float(getattr(t.result, name)), signal_of(t), t.id) for t in trials
           if getattr(t.result, name) is not None and np.isfinite(signal_of(t))]
    x, y, ids = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
    mappable = ax.scatter(x, y, c=ids, cmap="viridis", s=14, alpha=0.7, linewidths=0)
    front_x, front_y = pareto_front(x, y)
    ax.step(front_x, front_y, where="post", color="tab:orange", linewidth=1.2,
            label="Pareto front")
    ax.legend(loc="lower right", fontsize=8)
    if best is not None and getattr(best.result, name) is not None:
        xy = (float(getattr(best.result, name)), signal_of(best))
        ax.scatter([xy[0]], [xy[1]], marker="*", s=220, color="tab:red", edgecolors="black",
                   linewidths=0.6, zorder=3)
        ax.annotate(f"best (trial {best.id})", xy, xytext=(-10, -3), textcoords="offset points",
                    ha="right", va="top", fontsize=9, color="tab:red", zorder=4,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85,
                          "edgecolor": "none"})
    if x.min() > 0 and x.max() / x.min() > 20:
        ax.set_xscale("log")
    ax.set_xlabel("parameters" if name == "params" else "FLOPs")
    ax.set_title(f"{OBJECTIVE} vs {'parameters' if name == 'params' else 'FLOPs'}")
    ax.grid(True, alpha=0.3)
    return mappable
