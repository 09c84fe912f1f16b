"""The one-shot part of a report, read from the files the run wrote: the supernet's training
curves (``history.json``), DARTS-PT's per-edge scores and SPOS's candidates
(``selection_scores.csv``), PGNAS's candidate curve and dropped units (``candidates.csv``,
``dropped.csv``). Each piece is left out when its file is missing or unreadable."""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

from nasforge.report.figure import Plot
from nasforge.report.html import arch_html, fmt_number
from nasforge.report.oneshot import plot_history

log = logging.getLogger(__name__)

HISTORY_PNG = "plots/supernet_training.png"
Row = dict[str, str]


def history_plot(run_dir: Path) -> list[Plot]:
    """The supernet's loss / accuracy per epoch, drawn from ``history.json``."""
    try:
        history = json.loads((run_dir / "history.json").read_text())
        drawn = plot_history(history, run_dir / HISTORY_PNG) if history else None
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.info("report: no supernet training curve (%s)", exc)
        return []
    if drawn is None:
        return []
    return [Plot(HISTORY_PNG, f"Supernet training per epoch ({len(history)} epochs, "
                              "from history.json)")]


def read_csv(path: Path) -> list[Row]:
    """The rows of a CSV file; none if it is missing or unreadable."""
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def diagnostics_sections(run_dir: Path) -> list[str]:
    """The HTML sections for what the selection measured."""
    scores = read_csv(run_dir / "selection_scores.csv")
    curve = read_csv(run_dir / "candidates.csv")
    sections = [_pt_ops(scores), _pt_topology(scores), _spos(scores),
                _table("PGNAS: error (%) of the best of the first C candidates, inherited "
                       "weights on the search task (candidates.csv)", curve, drop=("arch",)),
                _table("PGNAS: learned drop probability and dropped units per layer and group "
                       "(dropped.csv)", read_csv(run_dir / "dropped.csv"))]
    return [s for s in sections if s]


def _number(text: str | None) -> str:
    try:
        value = float(text) if text not in (None, "") else math.nan
    except ValueError:
        return escape(str(text))
    return escape(fmt_number(value))


def _pt_ops(scores: Sequence[Row]) -> str:
    """DARTS-PT's op decisions: per edge (in decision order), the supernet's valid accuracy
    with each op removed; the op whose removal hurts most is kept (bold)."""
    rows = [r for r in scores if r.get("step") == "op" and r.get("edge")]
    if not rows:
        return ""
    edges = list(dict.fromkeys(r["edge"] for r in rows))
    ops = list(dict.fromkeys(r["removed"] for r in rows))
    lines = []
    for edge in edges:
        acc = {r["removed"]: r["valid_acc"] for r in rows if r["edge"] == edge}
        kept = min(acc, key=lambda op: _float(acc[op]))
        cells = "".join(_pt_cell(acc.get(op), op == kept) for op in ops)
        lines.append(f"<tr><td>{escape(edge)}</td>{cells}<td>{escape(kept)}</td></tr>")
    head = "".join(f"<th>{escape(op)}</th>" for op in ops)
    return ("<h2>DARTS-PT: valid accuracy of the supernet with one op removed, per edge</h2>\n"
            "<p class=\"muted\">Search task's valid split, in decision order; the op whose "
            "removal costs the most accuracy is kept (bold).</p>\n"
            f"<table>\n<tr><th>edge</th>{head}<th>kept</th></tr>\n" + "\n".join(lines)
            + "\n</table>")


def _pt_cell(value: str | None, kept: bool) -> str:
    text = _number(value) if value is not None else "–"
    return f'<td class="num">{"<b>" + text + "</b>" if kept else text}</td>'


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.inf
    except ValueError:
        return math.inf


def _pt_topology(scores: Sequence[Row]) -> str:
    rows = [r for r in scores if r.get("step") == "topology"]
    return _table("DARTS-PT: valid accuracy with one input edge of a node removed", rows,
                  drop=("step",))


def _spos(scores: Sequence[Row], n: int = 15) -> str:
    """SPOS's evolution: how many candidates were scored and the best of them."""
    rows = [r for r in scores if r.get("step") == "evolution"]
    if not rows:
        return ""
    best = sorted(rows, key=lambda r: -_float_or_nan(r.get("valid_acc")))[:n]
    flops = [_float_or_nan(r.get("flops")) for r in rows]
    finite = [f for f in flops if math.isfinite(f)]
    span = (f"; FLOPs of the scored candidates {fmt_number(round(min(finite)))} to "
            f"{fmt_number(round(max(finite)))}" if finite else "")
    intro = (f"<p class=\"muted\">{len(rows)} candidates scored with inherited supernet weights "
             f"after batch-norm recalibration (search task's valid split){span}.</p>")
    return _table(f"SPOS: the best {len(best)} candidates of the evolution", best,
                  drop=("step",), intro=intro)


def _float_or_nan(text: str | None) -> float:
    value = _float(text)
    return value if math.isfinite(value) else -math.inf


def _table(title: str, rows: Sequence[Row], drop: Sequence[str] = (), intro: str = "",
           limit: int = 60) -> str:
    """A CSV's rows as an HTML table (numbers formatted, at most ``limit`` rows)."""
    if not rows:
        return ""
    columns = [c for c in rows[0] if c not in drop]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>"
                     for r in rows[:limit])
    more = (f'<p class="muted">{len(rows) - limit} more rows in the CSV file</p>'
            if len(rows) > limit else "")
    return (f"<h2>{escape(title)}</h2>\n{intro}\n<table>\n<tr>{head}</tr>\n{body}\n</table>"
            f"{more}")


def _cell(value: str | None) -> str:
    if value is None or value == "":
        return "<td>–</td>"
    try:
        float(value)
    except ValueError:
        return f'<td class="arch">{arch_html(value)}</td>'  # edges, ops, architectures
    return f'<td class="num">{_number(value)}</td>'
