"""A ground truth at proxy scale: distinct random NB201 cells trained from scratch on the CIFAR-10
proxy (``configs/proxy_cifar10.yaml``), exported as a table.

The cells are trained by an ordinary resumable search (random search without replacement,
``strategy.unique``, in ``--workers`` processes of one thread each) in ``--run-dir``: killed,
it resumes with nothing lost; rerun with a larger ``--cells`` it extends the same run (the
random stream continues, so the first cells stay the same). The export,
``results/proxy_table_cifar10.csv``, has one row per finished cell: ``arch`` (NB201 string),
``proxy_valid``, ``proxy_test``, ``seconds`` (wall time of its training), and the NB201
table's ``c10_test``, ``c100_test``, ``in16_test`` (200 epochs) of the same cell. It is the
reference the one-shot reproductions are judged against at this scale (the percentile of a
selected cell among random cells, the rank correlation of a method's scores).
``results/proxy_table_cifar10.json`` summarises it (Kendall tau vs the table, spread) and
``.png`` plots every cell's proxy accuracy against its table accuracy.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/proxy_table.py --cells 300   # hours
    .venv/bin/python benchmarks/proxy_table.py --export-only       # rewrite the CSV from the run

The run takes several sessions: while cells are still to train, every export also snapshots
the default run directory into ``benchmarks/state/proxy_table_cifar10`` (tracked;
``carry.py``), and a checkout without the run directory starts from that snapshot, so a fresh
clone continues where the last one stopped. Once all ``--cells`` are exported the snapshot is
released: the CSV is what the repository keeps, and extending the table later needs the run
directory (without it the search starts from scratch; the first cells are the same, the random
stream being seeded).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: workers share the cores

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from carry import release, restore, snapshot
from common import REPO, mean_std, new_figure, save_figure
from scipy.stats import kendalltau, spearmanr
from skeleton import finish, parser, require, start

import nasforge
from nasforge.config import load_config
from nasforge.evaluators.table import NB201Table
from nasforge.run.store import TrialStore
from nasforge.spaces.nb201 import NB201Space

CONFIG = REPO / "configs" / "proxy_cifar10.yaml"
RUN_DIR = REPO / "runs" / "proxy_table_cifar10"
STATE_NAME = "proxy_table_cifar10"
COLUMNS = ("arch", "proxy_valid", "proxy_test", "seconds", "c10_test", "c100_test", "in16_test")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "proxy_table_cifar10", table=True, overrides=True)
    p.add_argument("--cells", type=int, default=300, help="distinct cells in all (extendable)")
    p.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    p.add_argument("--run-dir", default=str(RUN_DIR),
                   help="the run (only the default one is snapshotted, while cells remain)")
    p.add_argument("--config", default=str(CONFIG))
    p.add_argument("--seed", type=int, default=100, help="run seed (cells and training)")
    p.add_argument("--export-only", action="store_true", help="only rewrite the CSV and JSON")
    return p.parse_args(argv)


def train_cells(args: argparse.Namespace) -> None:
    """Run (or resume, or extend) the search that trains the cells."""
    config = load_config(args.config, args.overrides)
    run_dir = Path(args.run_dir)
    resume = (run_dir / "trials.sqlite").is_file()
    assert config.task is not None
    nasforge.search(space=config.space.to_dict(), task=config.task.to_dict(),
                    evaluator=config.evaluator.to_dict(),
                    strategy={"name": "random", "unique": True}, trials=args.cells,
                    seed=args.seed, run_dir=run_dir, resume=resume, progress=True,
                    workers=args.workers)


def table_rows(run_dir: Path, table: NB201Table) -> list[dict[str, Any]]:
    """One row per finished cell of the run, with the NB201 table's accuracies."""
    space = NB201Space()
    with TrialStore(run_dir / "trials.sqlite") as store:
        trials = [t for t in store.trials() if t.status == "ok"]
    rows = []
    for t in trials:
        text = space.format(t.arch)
        rows.append({"arch": text, "proxy_valid": t.result.metrics["valid_acc"],
                     "proxy_test": t.result.metrics.get("test_acc"),
                     "seconds": round(t.result.cost, 2),
                     **{c: table.value(text, c) for c in COLUMNS[4:]}})
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    valid = np.array([r["proxy_valid"] for r in rows])
    out: dict[str, Any] = {"cells": len(rows), "valid_mean_std": mean_std(valid),
                           "valid_spread": float(valid.max() - valid.min()),
                           "seconds_mean": float(np.mean([r["seconds"] for r in rows]))}
    for column in COLUMNS[4:]:
        ref = np.array([r[column] for r in rows])
        out[f"kendall_tau_{column}"] = float(kendalltau(valid, ref)[0])
        out[f"spearman_{column}"] = float(spearmanr(valid, ref)[0])
    # how finely it ranks: tau among the good cells only (most random cells are 85-94)
    for floor in (90, 92):
        good = [r for r in rows if r["c10_test"] >= floor]
        if len(good) > 1:
            out[f"kendall_tau_c10_test_at_least_{floor}"] = float(kendalltau(
                [r["proxy_valid"] for r in good], [r["c10_test"] for r in good])[0])
            out[f"cells_c10_test_at_least_{floor}"] = len(good)
    best = max(rows, key=lambda r: r["proxy_valid"])
    out["best_by_proxy_valid"] = {k: best[k] for k in ("arch", "proxy_valid", "c10_test")}
    return out


def export(args: argparse.Namespace, table: Path) -> dict[str, Any]:
    """The CSV of the run's finished cells, and the JSON (+ plot) that summarises them."""
    require(Path(args.run_dir) / "trials.sqlite", "run this script without --export-only to "
            "train the cells (finished runs are not kept, only their results)")
    rows = table_rows(Path(args.run_dir), NB201Table(table))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows) if len(rows) > 1 else {"cells": len(rows)}
    payload = {"config": str(Path(args.config).name), "overrides": args.overrides,
               "seed": args.seed, "summary": summary}
    finish(out, payload, (lambda _, path: plot(rows, summary, path)) if len(rows) > 1 else None)
    return summary


def plot(rows: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    """Proxy validation accuracy against the table's CIFAR-10 test accuracy, one dot a cell."""
    fig = new_figure(5.5, 4.2)
    ax = fig.add_subplot()
    ax.scatter([r["c10_test"] for r in rows], [r["proxy_valid"] for r in rows], s=10,
               alpha=0.6)
    ax.set_xlabel("NB201 table: CIFAR-10 test accuracy, 200 epochs (%)")
    ax.set_ylabel("proxy: valid accuracy, trained from scratch (%)")
    ax.set_title(f"{summary['cells']} random cells: Kendall tau "
                 f"{summary['kendall_tau_c10_test']:.3f}", fontsize=9)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table = start(args)
    run_dir = Path(args.run_dir)
    carried = run_dir.resolve() == RUN_DIR.resolve()  # only the default run is snapshotted
    if carried:
        restore(STATE_NAME, run_dir)
    if not args.export_only:
        train_cells(args)
    print(export(args, table))
    if carried and cells_done(run_dir) >= args.cells:
        release(STATE_NAME)  # every cell is in the CSV: the finished run leaves the repository
    elif carried:
        snapshot(run_dir, STATE_NAME)
    return 0


def cells_done(run_dir: Path) -> int:
    """The run's cells whose training has ended (finished or failed)."""
    with TrialStore(run_dir / "trials.sqlite") as store:
        return sum(t.status in ("ok", "failed") for t in store.trials())


if __name__ == "__main__":
    sys.exit(main())
