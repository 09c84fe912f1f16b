"""Run reports: ``report.html`` plus PNG plots in ``<run_dir>/plots/``.

``write_report(run_dir, space)`` reads the run's trial store (trials and what the run spine
recorded: evaluator, start and end time, one-shot epochs), config.yaml and the one-shot files
if present, and writes:

- ``plots/progress.png``: best-so-far search signal vs trial number and vs cumulative cost,
  every trial's signal faintly, and the test accuracy of the best-so-far trial if known
  (only with at least two scored trials: one dot is not a curve);
- ``plots/accuracy_vs_size.png``: signal vs parameters and/or FLOPs (same condition);
- ``plots/best_cell.png``: the best architecture drawn by :func:`draw_cell`;
- ``plots/supernet_training.png`` (one-shot runs): the supernet's training per epoch;
- ``report.html``: summary (each cost and clock labelled), the best architecture with
  where each of its numbers comes from, the command that retrains and exports it, the plots
  embedded as data URIs (one self-contained file), the selection's diagnostics (one-shot) or
  the top-20 trials (ask/tell), and last the config.

A plot that cannot be drawn is logged and left out: a finished search never fails on its report.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from nasforge.report import rnn_cells  # noqa: F401  (registers the RNN-cell drawer)
from nasforge.report.cells import draw_cell, register_cell_drawer
from nasforge.report.data import (
    Summary,
    load_run_info,
    load_trials,
    progress,
    signal_of,
    sim_clock,
    summarize,
)
from nasforge.report.diagnostics import diagnostics_sections, history_plot
from nasforge.report.html import (
    Plot,
    config_section,
    plots_section,
    render_page,
    retrain_section,
    summary_section,
    trials_section,
)
from nasforge.report.plots import plot_progress, plot_size
from nasforge.run.store import Trial
from nasforge.spaces.base import SearchSpace

__all__ = ["Plot", "draw_cell", "register_cell_drawer", "write_report", "PLOTS_DIR",
           "REPORT_NAME"]

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
PLOTS_DIR = "plots"
PROGRESS_PNG = "progress.png"
SIZE_PNG = "accuracy_vs_size.png"
CELL_PNG = "best_cell.png"


def write_report(run_dir: Path, space: SearchSpace, extra_plots: Sequence[Plot] = ()) -> Path:
    """Write ``report.html`` and its plots into ``run_dir``; return the HTML path.
    ``extra_plots``: PNGs a method drew itself (e.g. alpha heatmaps), shown after the rest."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trials, info = load_trials(run_dir), load_run_info(run_dir)
    summary = summarize(trials)
    plots = make_plots(run_dir, space, trials, summary)
    if info.one_shot:
        plots += history_plot(run_dir)
    plots += list(extra_plots)
    # the result first (summary, best architecture, how to retrain it), the raw config last:
    # a reader opens the report for the outcome, the config is there for reproduction
    sections = [summary_section(summary, space, info, sim_clock(trials)),
                retrain_section(run_dir, info), plots_section(plots, run_dir)]
    if info.one_shot:
        sections += diagnostics_sections(run_dir)
    else:
        sections.append(trials_section(trials, space))
    sections.append(config_section(run_dir))
    path = run_dir / REPORT_NAME
    tmp = path.with_name(REPORT_NAME + ".tmp")  # whole or absent: it marks a complete run
    tmp.write_text(render_page(run_dir, sections), encoding="utf-8")
    os.replace(tmp, path)
    log.info("report written to %s", path)
    return path


def make_plots(run_dir: Path, space: SearchSpace, trials: list[Trial],
               summary: Summary) -> list[Plot]:
    """Draw every plot that has data (none without a successful trial)."""
    best = summary.best
    if best is None:
        return []
    folder = run_dir / PLOTS_DIR
    jobs: list[tuple[str, str, Callable[[Path], Path | None]]] = []
    if sum(math.isfinite(signal_of(t)) for t in trials) >= 2:  # one dot is not a curve
        jobs += [(PROGRESS_PNG, "Best-so-far search signal vs trials and vs cumulative cost",
                  lambda p: plot_progress(progress(trials), p)),
                 (SIZE_PNG, "Search signal vs model size (colour: trial id; star: best)",
                  lambda p: plot_size(trials, best, p))]
    jobs.append((CELL_PNG, f"Best architecture (trial {best.id})",
                 lambda p: draw_cell(space, best.arch, p,
                                     title=f"best architecture: trial {best.id}")))
    plots = []
    for name, caption, draw in jobs:
        if _draw_safely(draw, folder / name):
            plots.append(Plot(f"{PLOTS_DIR}/{name}", caption))
    return plots


def _draw_safely(draw: Callable[[Path], Path | None], path: Path) -> bool:
    """Run one plot; log (do not raise) if it fails. True if the PNG was written."""
    try:
        return draw(path) is not None
    except Exception:  # a broken plot must not lose a finished search
        log.exception("report: could not draw %s", path.name)
        return False
