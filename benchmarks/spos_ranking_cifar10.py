"""Does SPOS's supernet rank NB201 cells on CIFAR-10? Inherited-weight accuracy against the
NB201 table and against the same cells trained from scratch on the CIFAR-10 proxy.

SPOS (Guo et al., ECCV 2020, Sec. 3.3) scores a candidate with the weights it inherits from
the uniformly trained single-path supernet, after recomputing batch-norm statistics on
training batches (their code: 200 batches). Its search only works if these scores rank cells
as training them would. This script reads the supernet a SPOS run trained (its
``trained_supernet.pt``, e.g. ``runs/oneshot_cifar10/spos-s0`` made by
``benchmarks/oneshot_cifar10.py --methods spos``), scores ``--cells`` distinct cells (the
proxy table's cells first, so that the ones trained from scratch are included, then random
ones) with each number of recalibration batches in ``--batches`` (0 = the shared statistics
of training), and reports Kendall tau against

- the NB201 table's ``c10_test`` (200 epochs) of every scored cell, and
- the proxy validation accuracy of the cells in ``results/proxy_table_cifar10.csv``;

with a diagnostic for the MNIST-1D finding (recalibration lowered tau there, from 0.42 to
-0.12): cells without any convolution ("parameter-free": skip, pooling and none only) are
scored the same way but train badly, so their mean percentile under each score is reported
beside their percentile on the table, and tau is also given over the cells with a
convolution only. Writes ``results/spos_ranking_cifar10.json`` and ``.png``.

    .venv/bin/python benchmarks/spos_ranking_cifar10.py --run runs/oneshot_cifar10/spos-s0
    .venv/bin/python benchmarks/spos_ranking_cifar10.py --out results/spos_ranking_seeds_cifar10 \
        --combine benchmarks/results/spos_ranking_e150*_cifar10.json   # supernets side by side
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, RESULTS, display_path, mean_std, new_figure, save_figure, stopwatch
from oneshot_cifar10 import PROXY_SPACE, median_flops, within_flops_limit
from scipy.stats import kendalltau, rankdata
from skeleton import finish, parser, require, start
from tqdm.auto import tqdm

from nasforge.config import load_config
from nasforge.evaluators.supernet import SupernetEvaluator
from nasforge.evaluators.table import NB201Table
from nasforge.run.components import build_components
from nasforge.run.supernet_reuse import TRAINED
from nasforge.spaces.nb201 import NB201Space
from nasforge.supernet.checkpoint import load_supernet

PROXY_TABLE = RESULTS / "proxy_table_cifar10.csv"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "spos_ranking_cifar10", table=True)
    p.add_argument("--run", default=str(REPO / "runs" / "oneshot_cifar10" / "spos-s0"),
                   help="a finished SPOS run directory (its trained_supernet.pt)")
    p.add_argument("--cells", type=int, default=150, help="distinct cells to score")
    p.add_argument("--batches", type=int, nargs="+", default=[0, 20, 100],
                   help="recalibration batches to compare (0 = shared statistics)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the extra random cells")
    p.add_argument("--combine", nargs="+", default=[], metavar="JSON",
                   help="instead: summarise finished rankings (one per supernet and seed) "
                        "at --combine-batches recalibration batches into --out, grouped by "
                        "the run's method (its name without the seed)")
    p.add_argument("--combine-batches", default="20")
    return p.parse_args(argv)


def cells(space: NB201Space, count: int, seed: int) -> list[dict[str, Any]]:
    """The proxy table's cells (with their proxy accuracy), then distinct random ones."""
    rows: list[dict[str, Any]] = []
    if PROXY_TABLE.is_file():
        with PROXY_TABLE.open() as handle:
            rows = [{"arch": r["arch"], "proxy_valid": float(r["proxy_valid"])}
                    for r in csv.DictReader(handle)][:count]
    seen = {space.parse(r["arch"]).key() for r in rows}
    rng = np.random.default_rng(seed)
    while len(rows) < count:
        arch = space.sample(rng)
        if arch.key() not in seen:
            seen.add(arch.key())
            rows.append({"arch": space.format(arch), "proxy_valid": None})
    return rows


def parameter_free(arch: str) -> bool:
    return "conv" not in arch


def score(parts: Any, net: Any, rows: list[dict[str, Any]], batches: int) -> list[float]:
    """Inherited-weight valid accuracy of every cell, the supernet restored between cells."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    evaluator = SupernetEvaluator(net, parts.space, parts.task, parts.device,
                                  recalibration_batches=batches)
    out = []
    for row in tqdm(rows, desc=f"recalibration {batches}", unit="cell"):
        out.append(evaluator.evaluate(parts.space.parse(row["arch"])).metrics["valid_acc"])
        net.load_state_dict(state)
    return out


def tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    return float(kendalltau(a, b)[0]) if len(a) > 2 else None


def ranking(rows: list[dict[str, Any]], scores: list[float]) -> dict[str, Any]:
    c10 = [r["c10_test"] for r in rows]
    free = np.array([parameter_free(r["arch"]) for r in rows])
    with_proxy = [i for i, r in enumerate(rows) if r["proxy_valid"] is not None]
    conv = [i for i in range(len(rows)) if not free[i]]
    pct_score = 100 * (rankdata(scores) - 0.5) / len(scores)
    pct_table = 100 * (rankdata(c10) - 0.5) / len(c10)
    return {
        "tau_vs_c10_test": tau(scores, c10),
        "tau_vs_proxy": tau([scores[i] for i in with_proxy],
                            [rows[i]["proxy_valid"] for i in with_proxy]),
        "proxy_cells": len(with_proxy),
        "tau_vs_c10_test_conv_cells": tau([scores[i] for i in conv], [c10[i] for i in conv]),
        "parameter_free_cells": int(free.sum()),
        "parameter_free_percentile": float(pct_score[free].mean()) if free.any() else None,
        "parameter_free_table_percentile": float(pct_table[free].mean()) if free.any() else None,
        "mean": float(np.mean(scores)), "distinct_scores": len(set(scores)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table_path = start(args, threads=1)
    if args.combine:
        return combine([Path(p) for p in args.combine], args.combine_batches, Path(args.out))
    run = Path(args.run)
    require(run / TRAINED, "run benchmarks/oneshot_cifar10.py --methods spos first")
    parts = build_components(load_config(run / "config.yaml"))
    assert parts.task is not None
    net = load_supernet(run / TRAINED, parts.space, parts.task.shape, parts.device)
    table = NB201Table(table_path)
    rows = cells(parts.space, args.cells, args.seed)
    for row in rows:
        row["c10_test"] = table.value(row["arch"], "c10_test")
    results: dict[str, Any] = {}
    with stopwatch() as elapsed:
        for batches in args.batches:
            scores = score(parts, net, rows, batches)
            results[str(batches)] = {**ranking(rows, scores), "scores": scores}
    payload = {"run": display_path(run), "cells": len(rows), "seconds": elapsed[0],
               "by_recalibration_batches": results, "rows": rows}
    return finish(args.out, payload, plot, markdown)


def plot(payload: dict[str, Any], path: Path) -> None:
    rows = payload["rows"]
    free = [parameter_free(r["arch"]) for r in rows]
    results = payload["by_recalibration_batches"]
    fig = new_figure(4.2 * len(results), 3.8)
    for ax, (batches, result) in zip(fig.subplots(1, len(results), squeeze=False)[0],
                                     results.items(), strict=True):
        colors = ["tab:red" if f else "tab:blue" for f in free]
        ax.scatter([r["c10_test"] for r in rows], result["scores"], s=10, c=colors)
        ax.set_xlabel("NB201 table c10_test (%)")
        ax.set_ylabel("inherited-weight valid accuracy (%)")
        ax.set_title(f"recalibration {batches} batches: tau {result['tau_vs_c10_test']:.2f}\n"
                     "red: no convolution in the cell", fontsize=9)
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    lines = [f"SPOS inherited-weight ranking, {payload['cells']} cells, supernet of "
             f"{payload['run']}", "",
             "| recalibration batches | tau vs c10_test | tau vs proxy (cells) | tau, conv "
             "cells | parameter-free cells: percentile by score / by table |",
             "|---|---|---|---|---|"]
    for batches, r in payload["by_recalibration_batches"].items():
        proxy = "-" if r["tau_vs_proxy"] is None else f"{r['tau_vs_proxy']:.3f}"
        free = "-" if r["parameter_free_percentile"] is None else (
            f"{r['parameter_free_percentile']:.0f} / {r['parameter_free_table_percentile']:.0f}"
            f" ({r['parameter_free_cells']})")
        lines.append(f"| {batches} | {r['tau_vs_c10_test']:.3f} | {proxy} "
                     f"({r['proxy_cells']}) | {r['tau_vs_c10_test_conv_cells']:.3f} | {free} |")
    return "\n".join(lines)


def combine(paths: list[Path], batches: str, out: Path) -> int:
    """Rankings of several supernets side by side: per ranking tau against the table and the
    proxy, tau among the cells within SPOS's FLOPs limit (what the constrained search ranks),
    and the score's tau with the number of skip and conv3x3 edges beside the table's (a
    supernet that flatters parameter-free paths ranks skip-heavy cells up); per method the
    mean +- std over its seeds."""
    limit = median_flops()
    per_run = [combined_row(json.loads(path.read_text()), batches, limit) for path in paths]
    methods: dict[str, list[dict[str, Any]]] = {}
    for row in per_run:
        methods.setdefault(row["method"], []).append(row)
    summary = {method: {key: mean_std([r[key] for r in rows]) for key in COMBINED}
               for method, rows in methods.items()}
    payload = {"recalibration_batches": int(batches), "flops_limit": limit, "runs": per_run,
               "summary": summary}
    return finish(out, payload, lambda _, path: plot_combined(methods, path),
                  lambda _: markdown_combined(methods, summary))


COMBINED = ("tau_vs_c10_test", "tau_vs_proxy", "tau_within_flops_limit", "skip_bias",
            "conv3x3_bias")


def combined_row(payload: dict[str, Any], batches: str, limit: float) -> dict[str, Any]:
    rows, result = payload["rows"], payload["by_recalibration_batches"][batches]
    scores, c10 = np.array(result["scores"]), np.array([r["c10_test"] for r in rows])
    within = np.array([within_flops_limit(r["arch"], limit) for r in rows])
    edge_ops = [list(PROXY_SPACE.edge_ops(PROXY_SPACE.parse(r["arch"])).values()) for r in rows]
    run = Path(payload["run"]).name
    method, _, seed = run.rpartition("-s")

    def op_bias(op: str) -> float | None:
        """tau(score, edges with op) minus tau(table, edges with op)."""
        count = [ops.count(op) for ops in edge_ops]
        own, table = tau(scores, count), tau(c10, count)
        return None if own is None or table is None else own - table

    return {"run": payload["run"], "method": method, "seed": int(seed),
            "tau_vs_c10_test": result["tau_vs_c10_test"], "tau_vs_proxy": result["tau_vs_proxy"],
            "tau_within_flops_limit": tau(scores[within], c10[within]),
            "cells_within_flops_limit": int(within.sum()),
            "skip_bias": op_bias("skip_connect"), "conv3x3_bias": op_bias("nor_conv_3x3")}


def plot_combined(methods: dict[str, list[dict[str, Any]]], path: Path) -> None:
    fig = new_figure(4.0 * len(COMBINED), 3.4)
    for ax, key in zip(fig.subplots(1, len(COMBINED), squeeze=False)[0], COMBINED,
                       strict=True):
        for i, rows in enumerate(methods.values()):
            values = [r[key] for r in rows]
            mean, std = mean_std(values)
            ax.scatter([i] * len(values), values, s=18)
            ax.errorbar([i], [mean], yerr=[std], fmt="_", color="k", capsize=6)
        ax.set_xticks(range(len(methods)), list(methods), rotation=20, fontsize=8)
        ax.axhline(0, color="gray", lw=0.6)
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.set_ylabel("Kendall tau" if "tau" in key else "tau(score) - tau(table)", fontsize=8)
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def markdown_combined(methods: dict[str, list[dict[str, Any]]],
                      summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| supernet | seeds | " + " | ".join(COMBINED) + " |",
             "|---|---|" + "---|" * len(COMBINED)]
    for method, rows in methods.items():
        cells = [f"{summary[method][k][0]:.3f} +- {summary[method][k][1]:.3f} ("
                 + " / ".join(f"{r[k]:.3f}" for r in rows) + ")" for k in COMBINED]
        lines.append(f"| {method} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
