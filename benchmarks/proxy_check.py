"""Does architecture matter on the proxy task? Train random NB201 cells from scratch and check.

The one-shot methods' reproduction scripts search and retrain on a small offline proxy task
(``configs/proxy_task.yaml``). A search there only proves something if cells trained on the
proxy actually differ. This script samples ``--cells`` random NB201 cells (uniformly, from
``--seed``) plus a few named reference cells, trains each from scratch with the config's
``train`` evaluator, and reports

- the spread (max - min), mean and std of the proxy validation (and test) accuracy over the
  random cells, and the seconds per cell;
- Kendall's tau between the proxy accuracies and the NB201 table's CIFAR-10 test accuracy
  (200 epochs, ``c10_test``) of the same cells;
- optionally (``--noise-seeds``), the seed-to-seed variation: the first ``--noise-cells``
  random cells retrained with other run seeds (new weights, data order and search split).

Writes ``benchmarks/results/proxy_check.json`` and a scatter plot ``proxy_check.png``.

    .venv/bin/python benchmarks/proxy_check.py                       # ~2-4 min on 2 cores
    .venv/bin/python benchmarks/proxy_check.py --config my.yaml --cells 50 --noise-seeds 1 2 3

With ``--from-run DIR`` the random cells are not trained here but read from a search run that
trained them with the same config (the proxy table's run, ``benchmarks/proxy_table.py``): its
first ``--cells`` finished cells, leaving out any cell ``--exclude`` lists (the cells the
proxy was chosen on, so that the check is on fresh cells). The reference cells and the noise
reruns are still trained here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, mean_std, new_figure, save_figure, stopwatch
from scipy.stats import kendalltau, spearmanr
from skeleton import finish, parser, require, start
from tqdm.auto import tqdm

from nasforge.config import RunConfig, load_config
from nasforge.evaluators.base import OBJECTIVE, Evaluator
from nasforge.evaluators.table import NB201Table
from nasforge.run.components import build, resolve_device
from nasforge.run.store import TrialStore
from nasforge.spaces.nb201 import NB201Space

log = logging.getLogger("benchmarks.proxy_check")

DEFAULT_CONFIG = REPO / "configs" / "proxy_task.yaml"
TABLE_COLUMN = "c10_test"

# Named cells: the degenerate ends of the space, the all-conv cell and the CIFAR-10 optimum.
REFERENCE_CELLS = {
    "all_none": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "all_skip": "|skip_connect~0|+|skip_connect~0|skip_connect~1|"
                "+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "all_avg_pool": "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|"
                    "+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
    "all_conv3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                   "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "c10_optimum": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                   "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "proxy_check", table=True, threads=2, overrides=True)
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="proxy run config (YAML)")
    p.add_argument("--cells", type=int, default=20, help="random cells to train")
    p.add_argument("--seed", type=int, default=0, help="seed of the cell sample")
    p.add_argument("--no-reference", action="store_true", help="skip the named cells")
    p.add_argument("--noise-seeds", type=int, nargs="*", default=[1, 2],
                   help="extra run seeds to retrain the first --noise-cells cells with")
    p.add_argument("--noise-cells", type=int, default=5)
    p.add_argument("--from-run", default=None, metavar="DIR",
                   help="read the random cells from this run's trial store instead")
    p.add_argument("--exclude", default=None, metavar="JSONL",
                   help="with --from-run: leave out the cells ('arch' field) of this file")
    return p.parse_args(argv)


def make_evaluator(config: RunConfig, seed: int) -> tuple[NB201Space, Evaluator]:
    """The config's space and train evaluator, with the task built from run seed ``seed``."""
    space = build("space", config.space)
    if not isinstance(space, NB201Space):
        raise SystemExit(f"proxy_check needs the nb201 space, not {config.space.name!r}")
    if config.task is None:
        raise SystemExit("proxy_check needs a task section in the config")
    task = build("task", config.task, seed=seed)
    evaluator = build("evaluator", config.evaluator, space=space, task=task, seed=seed,
                      device=resolve_device(config.device))
    return space, evaluator


def train_cells(space: NB201Space, evaluator: Evaluator, cells: Sequence[tuple[str, str]],
                table: NB201Table, desc: str) -> list[dict[str, Any]]:
    """Train each (name, arch string); one row per cell with proxy and table accuracies."""
    rows = []
    for name, text in tqdm(cells, desc=desc, unit="cell"):
        result = evaluator.evaluate(space.parse(text))
        if not result.ok:
            log.warning("%s failed: %s", text, result.error)
        rows.append({
            "name": name, "arch": text, "status": result.status,
            "valid_acc": result.metrics.get(OBJECTIVE), "test_acc": result.metrics.get("test_acc"),
            "seconds": result.cost, "params": result.params,
            TABLE_COLUMN: table.value(text, TABLE_COLUMN),
        })
    return rows


def run_cells(run_dir: Path, count: int, exclude: set[str], table: NB201Table
              ) -> list[dict[str, Any]]:
    """The first ``count`` finished cells of a search run, as rows of :func:`train_cells`."""
    space = NB201Space()
    require(run_dir / "trials.sqlite", "run benchmarks/proxy_table.py (its run directory) "
            "first; finished runs are not kept in the repository")
    with TrialStore(run_dir / "trials.sqlite") as store:
        trials = sorted((t for t in store.trials() if t.status == "ok"), key=lambda t: t.id)
    rows = []
    for t in trials:
        text = space.format(t.arch)
        if text in exclude:
            continue
        rows.append({
            "name": f"run_trial_{t.id}", "arch": text, "status": "ok",
            "valid_acc": t.result.metrics[OBJECTIVE], "test_acc": t.result.metrics.get("test_acc"),
            "seconds": t.result.cost, "params": t.result.params,
            TABLE_COLUMN: table.value(text, TABLE_COLUMN),
        })
    if len(rows) < count:
        raise SystemExit(f"{run_dir} has {len(rows)} fresh finished cells, fewer than {count}")
    return rows[:count]


def excluded_cells(path: str | None) -> set[str]:
    if path is None:
        return set()
    with open(path) as handle:
        return {json.loads(line)["arch"] for line in handle if line.strip()}


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["status"] == "ok"]
    valid = np.array([r["valid_acc"] for r in ok])
    test = np.array([r["test_acc"] for r in ok])
    ref = np.array([r[TABLE_COLUMN] for r in ok])
    seconds = [r["seconds"] for r in ok]
    out: dict[str, Any] = {"cells": len(rows), "failed": len(rows) - len(ok)}
    for key, values in (("valid", valid), ("test", test)):
        mean, std = mean_std(values)
        out[key] = {"spread": float(values.max() - values.min()), "min": float(values.min()),
                    "max": float(values.max()), "mean": mean, "std": std}
        tau, p_tau = kendalltau(values, ref)
        rho, _ = spearmanr(values, ref)
        out[key].update({"kendall_tau": float(tau), "kendall_p": float(p_tau),
                         "spearman": float(rho)})
    out["seconds_per_cell"] = {"mean": float(np.mean(seconds)), "max": float(np.max(seconds))}
    return out


def noise(base: Sequence[dict[str, Any]], reruns: dict[int, list[dict[str, Any]]],
          base_seed: int | str) -> dict[str, Any]:
    """Seed-to-seed variation of the valid accuracy of the same cells."""
    by_arch = {r["arch"]: r["valid_acc"] for r in base}
    per_cell = []
    for text in [r["arch"] for r in reruns[next(iter(reruns))]]:
        values = [by_arch[text]] + [
            next(r["valid_acc"] for r in rows if r["arch"] == text) for rows in reruns.values()
        ]
        per_cell.append({"arch": text, "valid_acc": values,
                         "std": mean_std(values)[1], "range": max(values) - min(values)})
    return {
        "seeds": [base_seed, *reruns],
        "cells": per_cell,
        "mean_std": float(np.mean([c["std"] for c in per_cell])),
        "mean_range": float(np.mean([c["range"] for c in per_cell])),
        "max_range": float(np.max([c["range"] for c in per_cell])),
    }


def plot(rows: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]], summary: dict[str, Any],
         title: str, path: Path) -> None:
    fig = new_figure(6.4, 4.8)
    ax = fig.add_subplot()
    ok = [r for r in rows if r["status"] == "ok"]
    ax.scatter([r[TABLE_COLUMN] for r in ok], [r["valid_acc"] for r in ok], s=22,
               label=f"{len(ok)} random cells", color="tab:blue")
    for r in refs:
        if r["status"] != "ok":
            continue
        ax.scatter(r[TABLE_COLUMN], r["valid_acc"], marker="*", s=90, color="tab:red")
        ax.annotate(r["name"], (r[TABLE_COLUMN], r["valid_acc"]), fontsize=7,
                    xytext=(4, -3), textcoords="offset points")
    valid = summary["valid"]
    ax.set_xlabel("NB201 CIFAR-10 test accuracy, 200 epochs (%)")
    ax.set_ylabel("proxy validation accuracy (%)")
    ax.set_title(f"{textwrap.fill(title, 80)}\nspread {valid['spread']:.1f} pts, Kendall tau "
                 f"{valid['kendall_tau']:.2f}", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def describe(config: RunConfig) -> str:
    task = config.task.to_dict() if config.task else {}
    ev = config.evaluator.to_dict()
    space = config.space.to_dict()
    opts = ", ".join(f"{k}={v}" for k, v in task.items() if k != "name")
    return (f"{task.get('name')} ({opts}), nb201 C={space.get('C')} N={space.get('N')}, "
            f"{ev.get('epochs', 5)} epochs")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table = NB201Table(start(args))
    config = load_config(args.config, args.overrides)

    space, evaluator = make_evaluator(config, config.seed)
    with stopwatch() as elapsed:
        if args.from_run:  # the run may still be training: its first cells serve the noise
            exclude = excluded_cells(args.exclude)
            first = run_cells(Path(args.from_run), args.noise_cells, exclude, table)
            random_cells = [(r["name"], r["arch"]) for r in first]
        else:
            rng = np.random.default_rng(args.seed)
            random_cells = [(f"random_{i}", space.format(space.sample(rng)))
                            for i in range(args.cells)]
            rows = train_cells(space, evaluator, random_cells, table, "random cells")
        refs = [] if args.no_reference else train_cells(
            space, evaluator, list(REFERENCE_CELLS.items()), table, "reference cells")
        reruns = {}
        for seed in args.noise_seeds:
            space_s, evaluator_s = make_evaluator(config, seed)
            reruns[seed] = train_cells(space_s, evaluator_s, random_cells[:args.noise_cells],
                                       table, f"noise seed {seed}")
        if args.from_run:
            rows = run_cells(Path(args.from_run), args.cells, exclude, table)
    summary = summarise(rows)
    payload: dict[str, Any] = {
        "config": config.to_dict(),
        "config_file": str(Path(args.config).resolve().relative_to(REPO))
        if Path(args.config).resolve().is_relative_to(REPO) else args.config,
        "sample_seed": args.seed,
        "from_run": args.from_run,
        "excluded": args.exclude,
        "threads": args.threads,
        "table_column": TABLE_COLUMN,
        "summary": summary,
        "noise": noise(rows, reruns, "run" if args.from_run else config.seed)
        if reruns and args.noise_cells > 0 else None,
        "wall_seconds": elapsed[0],
        "random_cells": rows,
        "reference_cells": refs,
    }
    title = describe(config)
    return finish(args.out, payload, lambda _, path: plot(rows, refs, summary, title, path),
                  lambda p: markdown(p, title))


def markdown(payload: dict[str, Any], title: str) -> str:
    s = payload["summary"]
    v, t = s["valid"], s["test"]
    lines = [
        f"### Proxy check: {title}",
        "",
        f"{s['cells']} random NB201 cells ("
        + (f"the first fresh cells of {payload['from_run']}" if payload.get("from_run")
           else f"sample seed {payload['sample_seed']}") + "), "
        f"{s['seconds_per_cell']['mean']:.1f} s per cell (max "
        f"{s['seconds_per_cell']['max']:.1f} s, {payload['threads']} threads).",
        "",
        "| split | spread (max-min) | min | max | mean +- std | Kendall tau vs c10_test |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in (("valid", v), ("test", t)):
        lines.append(f"| {name} | {d['spread']:.2f} | {d['min']:.2f} | {d['max']:.2f} | "
                     f"{d['mean']:.2f} +- {d['std']:.2f} | {d['kendall_tau']:.3f} "
                     f"(p={d['kendall_p']:.3g}) |")
    if payload["reference_cells"]:
        lines += ["", "| reference cell | proxy valid | proxy test | c10_test |",
                  "|---|---|---|---|"]
        for r in payload["reference_cells"]:
            lines.append(f"| {r['name']} | {r['valid_acc']:.2f} | {r['test_acc']:.2f} | "
                         f"{r[TABLE_COLUMN]:.2f} |")
    n = payload["noise"]
    if n:
        lines += ["", f"Seed-to-seed noise (run seeds {n['seeds']}, {len(n['cells'])} cells): "
                  f"mean std {n['mean_std']:.2f}, mean range {n['mean_range']:.2f}, "
                  f"max range {n['max_range']:.2f} points."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
