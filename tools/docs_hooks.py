"""MkDocs hooks: pages generated at build time from the repository (no network, no plugin).

- ``results/files/<name>.md``: one page per ``benchmarks/results/*.json`` (the command that
  wrote it, when, at which commit, its plot, and its numbers), and an index of them;
- ``<!-- results-table: NAME -->`` in a hand-written page: replaced by a table built from
  that JSON file (``oneshot_cifar10``, ``nb201_baselines``, ...);
- ``api.md``'s ``<!-- public-api -->``: one mkdocstrings entry per name in ``nasforge.__all__``,
  so a name added to the public API appears in the reference without editing the docs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGES = "results/files"
MAX_ROWS = 250  # a page of numbers, not a dump: long lists are summarised


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add one generated page (and its plot) per results JSON, and their index."""
    entries = []
    for path in sorted(RESULTS.glob("*.json")):
        data = _load(path)
        if data is None:
            continue
        plot = path.with_suffix(".png")
        if plot.is_file():
            files.append(File.generated(config, f"{PAGES}/{plot.name}",
                                        abs_src_path=str(plot)))
        files.append(File.generated(config, f"{PAGES}/{path.stem}.md",
                                    content=_file_page(path, data, plot.is_file())))
        entries.append((path, data))
    files.append(File.generated(config, f"{PAGES}/index.md", content=_index_page(entries)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill the generated tables and the API lists into hand-written pages."""
    if "<!-- public-api -->" in markdown:
        markdown = markdown.replace("<!-- public-api -->", _public_api())
    if "<!-- components -->" in markdown:
        markdown = markdown.replace("<!-- components -->", _components())
    for name, render in TABLES.items():
        marker = f"<!-- results-table: {name} -->"
        if marker in markdown:
            data = _load(RESULTS / f"{name}.json")
            table = render(data) if data is not None else f"*(`{name}.json` is missing)*"
            markdown = markdown.replace(marker, table)
    return markdown


# --- the public API ------------------------------------------------------------------------

FIRST = ("search", "train", "load", "export", "task_from")  # the front door, in this order


def _public_api() -> str:
    """``::: module.name`` for every public name of ``nasforge.__all__``, by kind."""
    import nasforge  # no torch: the package imports its names on first use

    homes: dict[str, str] = nasforge._HOMES  # noqa: SLF001 (the package's own name map)
    names = [n for n in FIRST if n in nasforge.__all__]
    names += [n for n in nasforge.__all__ if n not in FIRST]
    functions, classes, other = [], [], []
    for name in names:
        target = f"{homes.get(name, 'nasforge')}.{name}"
        if name.isupper():
            other.append(target)
        elif name[0].isupper():
            classes.append(target)
        else:
            functions.append(target)
    out = []
    for title, targets in (("Functions", functions), ("Classes", classes),
                           ("Registries", other)):
        out.append(f"## {title}\n")
        out.extend(f"::: {t}\n" for t in targets)
    return "\n".join(out)


SECTIONS = {"space": "Spaces", "task": "Tasks", "evaluator": "Evaluators",
            "strategy": "Strategies", "selection": "Selections", "executor": "Executors"}


def _components() -> str:
    """Every registered component (what a config names), with its factory's signature and
    docstring: read from the registries when the site is built."""
    from nasforge.run.components import registries

    out = []
    for section, registry in registries().items():
        out.append(f"## {SECTIONS.get(section, section)}\n")
        for name in registry.names():
            factory = registry.get(name)
            out.append(f"### `{section}: {name}`\n")
            out.append(f"::: {factory.__module__}.{factory.__qualname__}\n"
                       "    options:\n      members: false\n      heading_level: 4\n"
                       "      show_root_toc_entry: false\n")
    return "\n".join(out)


# --- one page per results file ---------------------------------------------------------------

def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _meta(data: Any) -> dict[str, Any]:
    meta = data.get("meta") if isinstance(data, dict) else None
    return meta if isinstance(meta, dict) else {}


def _command(meta: dict[str, Any]) -> str:
    command = str(meta.get("command", ""))
    if command and not command.startswith(("python", "nasforge")):
        command = f"python benchmarks/{command}"
    return command


def _index_page(entries: list[tuple[Path, Any]]) -> str:
    lines = ["# Benchmark files", "",
             "Every JSON file in `benchmarks/results/`, rendered when the site is built: the",
             "command that wrote it, when and at which commit, its plot and its numbers. The",
             "[results pages](../index.md) say what they mean.", "",
             "| file | command | date |", "|---|---|---|"]
    for path, data in entries:
        meta = _meta(data)
        lines.append(f"| [{path.name}]({path.stem}.md) | `{_cell(_command(meta))}` | "
                     f"{str(meta.get('date', ''))[:10]} |")
    return "\n".join(lines) + "\n"


def _file_page(path: Path, data: Any, has_plot: bool) -> str:
    meta = _meta(data)
    lines = [f"# {path.name}", ""]
    if meta:
        lines += [f"- command: `{_command(meta)}`" if meta.get("command") else "",
                  f"- date: {meta.get('date', '?')}, commit `{meta.get('git_commit', '?')}`",
                  f"- torch {meta.get('torch', '?')}, numpy {meta.get('numpy', '?')}, "
                  f"{meta.get('cpu_count', '?')} CPUs, {meta.get('platform', '?')}", ""]
    if has_plot:
        lines += [f"![{path.stem}]({path.stem}.png)", ""]
    render = TABLES.get(path.stem) or TABLES.get(_family(path.stem))
    if render is not None:
        lines += [render(data), ""]
    rows = list(_flatten(data, ""))
    lines += ["## Numbers", "", "| key | value |", "|---|---|"]
    for key, value in rows[:MAX_ROWS]:
        lines.append(f"| `{_cell(key)}` | {_cell(value)} |")
    if len(rows) > MAX_ROWS:
        lines += ["", f"({len(rows) - MAX_ROWS} more values in `{path.name}`.)"]
    return "\n".join(lines) + "\n"


def _family(stem: str) -> str:
    return "nb201_baselines" if stem.startswith("nb201_") else stem


def _flatten(value: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if key == "" and k == "meta":
                continue
            yield from _flatten(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        yield from _flatten_list(value, key)
    else:
        yield key, _fmt(value)


def _flatten_list(value: list[Any], key: str) -> Iterator[tuple[str, str]]:
    if all(_is_number(v) for v in value):
        if len(value) <= 8:
            yield key, " / ".join(_fmt(v) for v in value)
        elif value:
            numbers = [float(v) for v in value]
            yield key, (f"{len(numbers)} values: min {_fmt(min(numbers))}, mean "
                        f"{_fmt(sum(numbers) / len(numbers))}, max {_fmt(max(numbers))}, "
                        f"last {_fmt(numbers[-1])}")
    elif len(value) <= 6:
        for i, item in enumerate(value):
            yield from _flatten(item, f"{key}[{i}]")
    else:
        kinds = sorted({type(v).__name__ for v in value})
        yield key, f"{len(value)} records ({', '.join(kinds)})"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return str(value) if not math.isfinite(value) else f"{value:.6g}"
    if isinstance(value, str) and "|" in value:
        return f"`{value}`"
    return str(value)


def _cell(text: str) -> str:
    """A table cell: pipes escaped, one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- tables for the hand-written results pages ---------------------------------------------

def _pm(pair: Any, digits: int = 2) -> str:
    mean, std = float(pair[0]), float(pair[1])
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def _oneshot_table(data: dict[str, Any]) -> str:
    paper = data.get("paper_c10_test", {})
    lines = ["| method | seeds | NB201 c10_test, mean +- std (per seed) | proxy percentile "
             f"(of {data.get('proxy_table_cells', '?')} cells) | CPU s | paper's c10_test |",
             "|---|---|---|---|---|---|"]
    for name, row in data["methods"].items():
        seeds = row.get("per_seed", [])
        per_seed = " / ".join(f"{float(s['c10_test']):.2f}" for s in seeds)
        lines.append(f"| {name} | {len(seeds)} | {_pm(row['c10_test'])} ({per_seed}) | "
                     f"{float(row['proxy_percentile'][0]):.0f} | "
                     f"{float(row['cpu_seconds'][0]):.0f} | {paper.get(name, '')} |")
    return "\n".join(lines)


def _nb201_table(data: dict[str, Any]) -> str:
    paper = data.get("paper", {})
    lines = []
    for dataset, methods in data["results"].items():
        lines += [f"Searched on {dataset}:", "",
                  "| method | runs | test, ours | test, paper | evaluations | transfer (ours) |",
                  "|---|---|---|---|---|---|"]
        for method, row in methods.items():
            acc, trials = row["test_acc"], row["n_trials"]
            ref = paper.get(method, {}).get(dataset) if dataset == "cifar10" else None
            ref_text = f"{ref['mean']:.2f} +- {ref['std']:.2f}" if ref else ""
            transfer = ", ".join(f"{k} {v['mean']:.2f}" for k, v in
                                 row.get("transfer", {}).items())
            lines.append(f"| {method} | {row['n_runs']} | {acc['mean']:.2f} +- "
                         f"{acc['std']:.2f} | {ref_text} | {trials['mean']:.0f} | {transfer} |")
        lines.append("")
    return "\n".join(lines)


def _ranking_table(data: dict[str, Any]) -> str:
    lines = [f"Run `{data.get('run', '?')}`, {data.get('cells', '?')} cells:", "",
             "| recalibration batches | Kendall tau vs NB201 c10_test | cells with a "
             "convolution | vs the proxy | mean inherited accuracy |",
             "|---|---|---|---|---|"]
    for batches, row in data["by_recalibration_batches"].items():
        lines.append(f"| {batches} | {row['tau_vs_c10_test']:.3f} | "
                     f"{row['tau_vs_c10_test_conv_cells']:.3f} | {row['tau_vs_proxy']:.3f} | "
                     f"{row['mean']:.1f} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[Any], str]] = {
    "oneshot_cifar10": _oneshot_table,
    "nb201_baselines": _nb201_table,
    "nb201_baselines_500seeds": _nb201_table,
}
for _stem in sorted(p.stem for p in RESULTS.glob("spos_ranking_*cifar10.json")):
    if _stem != "spos_ranking_seeds_cifar10":
        TABLES[_stem] = _ranking_table
