"""The self-contained report.html: inline CSS, images embedded as base64 PNG data URIs (the
PNG files are kept beside it too), no JavaScript: one file that can be sent as it is."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path

import yaml

from nasforge.evaluators.base import OBJECTIVE
from nasforge.report.data import (
    TEST_METRIC,
    RunInfo,
    Summary,
    arch_text,
    has_metric,
    top_trials,
)
from nasforge.report.figure import Plot
from nasforge.report.sources import metric_source, shown_metrics, signal_name, size_source
from nasforge.run.store import Trial
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.reference import rebuildable

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1150px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; border-bottom: 2px solid #1f3b57; padding-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; color: #1f3b57; }
pre { background: #f5f5f5; padding: .8em; overflow-x: auto; border-radius: 4px; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.arch { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em; }
p.arch { background: #f5f5f5; padding: .8em; border-radius: 4px; font-size: .95em; }
.arch .tok { white-space: nowrap; }
tr.failed td { color: #a33; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
.muted { color: #777; }
"""


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


# Where an architecture string may wrap: after a '+' (NB201's node boundary), after a '|'
# that sits between two edges (`a~0|b~1`), and after white space (DARTS genotypes, JSON,
# macro layers) unless after a JSON key's ': ' or inside an innermost (...) or [...], so that
# a genotype's `('sep_conv_3x3', 0)` stays whole; never inside `nor_conv_3x3~0` or
# `conv:3x3/36/s1<-0,1`.
ARCH_BREAK = re.compile(r"(?<=\+)(?=\S)|(?<=[^|+\s]\|)(?=[^|+\s])"
                        r"|(?<=[^:]\s)(?=\S)(?![^()\[\]{}]*[)\]])")


def arch_tokens(text: str) -> list[str]:
    """``text`` cut at its wrap points; the pieces join back to ``text``."""
    return [t for t in ARCH_BREAK.split(text) if t]


def arch_html(text: str) -> str:
    """``text`` as HTML that wraps only at its wrap points: each token is an unbreakable
    span (browsers would otherwise break inside one, e.g. after the '/' or '-' of a macro
    layer), with a ``<wbr>`` or the original space between tokens."""
    parts = []
    for token in arch_tokens(text):
        core = token.rstrip()
        gap = " " if core != token else "<wbr>"
        parts.append(f'<span class="tok">{escape(core)}</span>{gap}')
    return "".join(parts).removesuffix("<wbr>").rstrip(" ")


def config_section(run_dir: Path) -> str:
    """config.yaml verbatim, or a note that the run has none (e.g. run from Python)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return '<h2>Configuration</h2>\n<p class="muted">no config.yaml (run from Python)</p>'
    return f"<h2>Configuration</h2>\n<pre>{escape(path.read_text())}</pre>"


def summary_section(summary: Summary, space: SearchSpace, info: RunInfo,
                    sim_clock: float | None = None) -> str:
    """Counts, costs (each labelled with what it is) and the best architecture."""
    rows = [("search space", space.name)]
    rows += _oneshot_rows(summary, info) if info.one_shot else _asktell_rows(summary, info,
                                                                             sim_clock)
    if info.wall_time is not None:
        rows.append(("wall time (real, start to end of the run)", fmt_seconds(info.wall_time)))
    elif not info.one_shot:
        rows.append(("wall time (real, first trial start to last trial end)",
                     fmt_seconds(summary.wall_time)))
    body = "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return (f"<h2>Summary</h2>\n<table>\n{body}\n</table>\n"
            f"{best_section(summary.best, space, info)}")


def _asktell_rows(summary: Summary, info: RunInfo, sim_clock: float | None
                  ) -> list[tuple[str, str]]:
    simulated = info.evaluator.get("evaluator") == "table"
    rows = [("trials", fmt_number(summary.n_trials)),
            ("ok / failed", f"{fmt_number(summary.n_ok)} / {fmt_number(summary.n_failed)}"
             + (f" ({summary.n_running} unfinished)" if summary.n_running else "")),
            ("evaluation cost, summed over trials"
             + (" (simulated: NB201 table training times)" if simulated else " (measured)"),
             fmt_seconds(summary.total_cost))]
    if sim_clock is not None:
        rows.append(("simulated cluster wall-clock (what a seconds budget counts)",
                     fmt_seconds(sim_clock)))
    return rows


def _oneshot_rows(summary: Summary, info: RunInfo) -> list[tuple[str, str]]:
    epochs = len(info.epochs or [])
    kind = info.evaluator.get("evaluator")
    rows = [("method", f"one-shot: supernet trained for {epochs} epochs, one architecture "
                       "selected, then evaluated once")]
    if info.supernet_from:
        rows.append(("supernet", f"trained by run {info.supernet_from} (supernet_from), not "
                                 "here; its training time is not in this run's wall time"))
    if summary.best is not None and kind == "table":
        rows.append(("NB201 training time of the selected cell (simulated, not spent here)",
                     fmt_seconds(summary.best.result.cost)))
    elif summary.best is not None and kind not in ("supernet_path", None):
        rows.append(("evaluation of the selected architecture (measured)",
                     fmt_seconds(summary.best.result.cost)))
    return rows


def best_section(best: Trial | None, space: SearchSpace, info: RunInfo | None = None) -> str:
    """The best architecture in the space's own format, and each of its numbers with where
    it comes from."""
    if best is None:
        return '<h2>Best architecture</h2>\n<p class="muted">no successful trial</p>'
    info = info or RunInfo({}, None, None, None)
    result = best.result
    numbers = [(k, fmt_number(v), metric_source(k, info.evaluator, one_shot=info.one_shot))
               for k, v in shown_metrics(result.metrics).items()]
    numbers += [(k, fmt_number(v), size_source(info.evaluator, one_shot=info.one_shot))
                for k, v in (("params", result.params), ("FLOPs", result.flops))
                if v is not None]
    body = "\n".join(f'<tr><th>{escape(k)}</th><td class="num">{escape(v)}</td>'
                     f'<td class="muted">{escape(src)}</td></tr>' for k, v, src in numbers)
    title = "Selected architecture" if info.one_shot else f"Best architecture (trial {best.id})"
    return (f'<h2>{title}</h2>\n<p class="arch">{arch_html(arch_text(space, best.arch))}</p>\n'
            f"<table>\n<tr><th>number</th><th>value</th><th>where it comes from</th></tr>\n"
            f"{body}\n</table>")


def retrain_section(run_dir: Path, info: RunInfo) -> str:
    """The command that retrains the result from scratch and exports it."""
    if not (run_dir / "best.json").is_file():
        return ""
    given_again = _objects_to_give_again(run_dir)
    if given_again:
        return _python_retrain(run_dir, given_again)
    command = f"nasforge train {run_dir / 'best.json'}{_config_option(run_dir, info)}"
    return ("<h2>Retrain and export</h2>\n<p>Train the result from scratch on the run's task "
            "and export it (<code>model.pt</code>: state dict, architecture, input shape and "
            "classes; <code>model.ts</code>: TorchScript) into <code>"
            f"{escape(str(run_dir / 'retrain'))}</code>; <code>--epochs N</code> sets the "
            f"training length:</p>\n<pre>{escape(command)}</pre>")


def _objects_to_give_again(run_dir: Path) -> list[str]:
    """What a run started from Python with objects has not on disk and ``nasforge.train``
    needs again: its task (no config names it) and a space not stored by reference."""
    missing = []
    if not (run_dir / "config.yaml").is_file() and not (run_dir.parent / "config.yaml").is_file():
        missing.append("task")
    try:
        spec = json.loads((run_dir / "best.json").read_text()).get("space", {})
    except (OSError, ValueError, AttributeError):
        return missing
    if spec and not rebuildable(spec):  # a user space that best.json holds no reference of
        missing.append("space")
    return missing


def _python_retrain(run_dir: Path, missing: list[str]) -> str:
    """The Python call that retrains a run whose task or space were Python objects."""
    args = "".join(f", {name}=..." for name in missing)
    call = f"nasforge.train({str(run_dir)!r}{args}, epochs=10)"
    what = " and ".join({"task": "the data (task=, as given to nasforge.search)",
                         "space": "the search space object (space=)"}[m] for m in missing)
    return ("<h2>Retrain and export</h2>\n<p>This run was started from Python with objects "
            f"that are not on disk: give {escape(what)} again to train the result from "
            "scratch and export it (<code>model.pt</code>, <code>model.ts</code>; "
            f"<code>onnx=True</code> adds <code>model.onnx</code>):</p>\n"
            f"<pre>{escape(call)}</pre>")


def _config_option(run_dir: Path, info: RunInfo) -> str:
    """`` --config X`` when the run's own config.yaml cannot say what to train on: none
    (e.g. SPOS's evolution/, whose parent holds it), or one without a task (a search on the
    NB201 table trains nothing; the lm evaluator brings its own corpus)."""
    own = run_dir / "config.yaml"
    if not own.is_file():
        parent = run_dir.parent / "config.yaml"
        return f" --config {parent}" if parent.is_file() else " --config CONFIG.yaml"
    try:
        config = yaml.safe_load(own.read_text())
    except (OSError, yaml.YAMLError):
        return ""
    has_task = isinstance(config, dict) and config.get("task") is not None
    if has_task or info.evaluator.get("evaluator") == "lm":
        return ""
    return " --config configs/proxy_task.yaml   # the run has no task: name one to train on"


def plots_section(plots: Sequence[Plot], run_dir: Path) -> str:
    """The figures, embedded, or a note when there was nothing to plot."""
    figures = [_figure(p, run_dir) for p in plots]
    shown = [f for f in figures if f]
    if not shown:
        return '<h2>Plots</h2>\n<p class="muted">nothing to plot</p>'
    return "<h2>Plots</h2>\n" + "\n".join(shown)


def _figure(plot: Plot, run_dir: Path) -> str:
    """One <figure> with the PNG inlined as a data URI ('' if the file is missing)."""
    path = run_dir / plot.src
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(plot.caption)}" '
            f'title="{escape(plot.src)}"><figcaption>{escape(plot.caption)}</figcaption>'
            "</figure>")


def trials_section(trials: Sequence[Trial], space: SearchSpace, n: int = 20) -> str:
    """A table of the top ``n`` trials by search signal."""
    if not trials:
        return '<h2>Top trials</h2>\n<p class="muted">no trials</p>'
    extra = [m for m in (TEST_METRIC,) if has_metric(trials, m)]
    sizes = [s for s in ("params", "flops") if any(getattr(t.result, s) is not None
                                                   for t in trials)]
    ok = [t for t in trials if t.result.ok]
    signal = signal_name(ok[0].result.metrics) if ok else OBJECTIVE
    head = ["id", "architecture", f"{signal} (search signal)", *extra,
            *("FLOPs" if s == "flops" else s for s in sizes), "cost", "status"]
    rows = [_trial_row(t, space, extra, sizes) for t in top_trials(trials, n)]
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    shown = min(n, len(trials))
    return (f"<h2>Top {shown} of {len(trials)} trials by {escape(signal)}</h2>\n"
            f"<table>\n<tr>{header}</tr>\n" + "\n".join(rows) + "\n</table>")


def _trial_row(trial: Trial, space: SearchSpace, extra: Sequence[str],
               sizes: Sequence[str]) -> str:
    """One <tr>: numbers right-aligned, the architecture in the space's format."""
    result = trial.result
    nums = [result.metrics.get(OBJECTIVE), *(result.metrics.get(m) for m in extra),
            *(getattr(result, s) for s in sizes)]
    cells = [f'<td class="num">{trial.id}</td>',
             f'<td class="arch">{arch_html(arch_text(space, trial.arch))}</td>',
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
