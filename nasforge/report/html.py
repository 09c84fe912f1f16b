"""The self-contained report.html: inline CSS, images by relative path, no JavaScript."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from nasforge.evaluators.base import OBJECTIVE
from nasforge.report.data import TEST_METRIC, Summary, arch_text, has_metric, top_trials
from nasforge.spaces.base import SearchSpace
from nasforge.store import Trial

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1150px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; border-bottom: 2px solid #1f3b57; padding-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; color: #1f3b57; }
pre { background: #f5f5f5; padding: .8em; overflow-x: auto; border-radius: 4px; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.arch { font-family: monospace; font-size: .85em; word-break: break-all; }
tr.failed td { color: #a33; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
.muted { color: #777; }
"""


@dataclass(frozen=True)
class Plot:
    """One image of the report: its path relative to report.html and a caption."""

    src: str
    caption: str


def fmt_number(value: object) -> str:
    """Integers with thousands separators, floats to 4 significant digits, '–' if unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) >= 1e4):
        return f"{int(value):,}"
    return f"{value:.4g}"


def fmt_seconds(seconds: float | None) -> str:
    """Seconds, with minutes/hours/days added when that is easier to read."""
    if seconds is None:
        return "–"
    text = f"{seconds:.3g} s" if abs(seconds) < 10 else f"{seconds:,.1f} s"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= 2 * size:
            return f"{text} ({seconds / size:.1f} {unit})"
    return text


def config_section(run_dir: Path) -> str:
    """config.yaml verbatim, or a note that the run has none (e.g. run from Python)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return '<h2>Configuration</h2>\n<p class="muted">no config.yaml (run from Python)</p>'
    return f"<h2>Configuration</h2>\n<pre>{escape(path.read_text())}</pre>"


def summary_section(summary: Summary, space: SearchSpace) -> str:
    """Counts, costs and the best architecture with its metrics."""
    rows = [
        ("search space", space.name),
        ("trials", fmt_number(summary.n_trials)),
        ("ok / failed", f"{fmt_number(summary.n_ok)} / {fmt_number(summary.n_failed)}"
         + (f" ({summary.n_running} unfinished)" if summary.n_running else "")),
        ("total evaluation cost", fmt_seconds(summary.total_cost)),
        ("wall time", fmt_seconds(summary.wall_time)),
    ]
    body = "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<h2>Summary</h2>\n<table>\n{body}\n</table>\n{best_section(summary.best, space)}"


def best_section(best: Trial | None, space: SearchSpace) -> str:
    """The best architecture in the space's own format, and all of its numbers."""
    if best is None:
        return '<h2>Best architecture</h2>\n<p class="muted">no successful trial</p>'
    result = best.result
    numbers: list[tuple[str, str]] = [(k, fmt_number(v)) for k, v in result.metrics.items()]
    numbers += [(k, fmt_number(v)) for k, v in (("params", result.params),
                                                 ("FLOPs", result.flops)) if v is not None]
    numbers.append(("cost", fmt_seconds(result.cost)))
    body = "\n".join(f"<tr><th>{escape(k)}</th><td class=\"num\">{escape(v)}</td></tr>"
                     for k, v in numbers)
    return (f"<h2>Best architecture (trial {best.id})</h2>\n"
            f"<pre>{escape(arch_text(space, best.arch))}</pre>\n<table>\n{body}\n</table>")


def plots_section(plots: Sequence[Plot]) -> str:
    """The figures, or a note when there was nothing to plot."""
    if not plots:
        return '<h2>Plots</h2>\n<p class="muted">nothing to plot: no successful trial</p>'
    figures = "\n".join(
        f'<figure><img src="{escape(p.src)}" alt="{escape(p.caption)}">'
        f"<figcaption>{escape(p.caption)}</figcaption></figure>" for p in plots
    )
    return f"<h2>Plots</h2>\n{figures}"


def trials_section(trials: Sequence[Trial], space: SearchSpace, n: int = 20) -> str:
    """A table of the top ``n`` trials by search signal."""
    if not trials:
        return '<h2>Top trials</h2>\n<p class="muted">no trials</p>'
    extra = [m for m in (TEST_METRIC,) if has_metric(trials, m)]
    sizes = [s for s in ("params", "flops") if any(getattr(t.result, s) is not None
                                                   for t in trials)]
    head = ["id", "architecture", OBJECTIVE, *extra,
            *("FLOPs" if s == "flops" else s for s in sizes), "cost", "status"]
    rows = [_trial_row(t, space, extra, sizes) for t in top_trials(trials, n)]
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    shown = min(n, len(trials))
    return (f"<h2>Top {shown} of {len(trials)} trials by {escape(OBJECTIVE)}</h2>\n"
            f"<table>\n<tr>{header}</tr>\n" + "\n".join(rows) + "\n</table>")


def _trial_row(trial: Trial, space: SearchSpace, extra: Sequence[str],
               sizes: Sequence[str]) -> str:
    """One <tr>: numbers right-aligned, the architecture in the space's format."""
    result = trial.result
    nums = [result.metrics.get(OBJECTIVE), *(result.metrics.get(m) for m in extra),
            *(getattr(result, s) for s in sizes)]
    cells = [f'<td class="num">{trial.id}</td>',
             f'<td class="arch">{escape(arch_text(space, trial.arch))}</td>',
             *(f'<td class="num">{escape(fmt_number(v))}</td>' for v in nums),
             f'<td class="num">{escape(fmt_seconds(result.cost))}</td>',
             f"<td>{escape(_status_text(trial))}</td>"]
    css = ' class="failed"' if trial.status == "failed" else ""
    return f"<tr{css}>{''.join(cells)}</tr>"


def _status_text(trial: Trial) -> str:
    """'ok', 'running', or 'failed: <first 120 characters of the error>'."""
    if trial.status != "failed" or not trial.result.error:
        return trial.status
    error = trial.result.error.strip().splitlines()[0] if trial.result.error.strip() else ""
    return f"failed: {error[:120]}" + ("…" if len(error) > 120 else "")


def render_page(run_dir: Path, sections: Sequence[str]) -> str:
    """The whole HTML document around the rendered sections."""
    title = escape(f"nasforge run: {run_dir.resolve().name}")
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n{body}\n</body>\n</html>\n")
