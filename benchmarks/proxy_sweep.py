"""Find the CIFAR-10 proxy: which cheap training setting ranks NB201 cells as the table does?

For each setting (network width C and depth N, input size, number of training images, epochs;
``SETTINGS`` below, each a list of ``--set`` overrides of ``configs/proxy_cifar10.yaml``) the
same ``--cells`` random NB201 cells (sample seed ``--seed``) and the named reference cells are
trained from scratch, and the first ``--noise-cells`` random cells again with other run seeds.
Per setting: Kendall tau of the proxy validation accuracy against the table's ``c10_test``,
seconds per cell, the seed-to-seed noise (std of one cell's accuracy over run seeds) against
the spread of the random cells (their std), and the reference cells' scores.

Cells train in ``--workers`` processes of one torch thread each (both cores busy; small
networks use two processes better than two threads). Every trained cell is appended to
``results/proxy_sweep_cells.jsonl`` at once, so a killed sweep resumes where it stopped and a
rerun with more settings trains only what is new. Writes ``results/proxy_sweep.json`` + ``.png``.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/proxy_sweep.py            # hours
    .venv/bin/python benchmarks/proxy_sweep.py --settings c8n1_16px_10k_e10 --cells 30
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: workers share the cores

import argparse
import json
import multiprocessing as mp
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, new_figure, save_figure
from proxy_check import REFERENCE_CELLS, TABLE_COLUMN, make_evaluator, noise, summarise
from skeleton import finish, parser, start
from tqdm.auto import tqdm

BASE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "proxy_cifar10.yaml"
CELL_LOG = RESULTS / "proxy_sweep_cells.jsonl"
BASE_SEED = 0  # run seed of the random and reference cells; the noise reruns use --noise-seeds

# name -> overrides of configs/proxy_cifar10.yaml. Validation is 10,000 images throughout
# (train_size x valid_fraction), so settings differ only in what they train on and how long.
SETTINGS: dict[str, list[str]] = {
    "c8n1_16px_10k_e10": ["space.C=8", "space.N=1", "task.train_size=20000",
                          "task.valid_fraction=0.5", "evaluator.epochs=10"],
    "c16n1_16px_10k_e10": ["space.C=16", "space.N=1", "task.train_size=20000",
                           "task.valid_fraction=0.5", "evaluator.epochs=10"],
    "c8n2_16px_10k_e12": ["space.C=8", "space.N=2", "task.train_size=20000",
                          "task.valid_fraction=0.5", "evaluator.epochs=12"],
    "c8n1_16px_10k_e20": ["space.C=8", "space.N=1", "task.train_size=20000",
                          "task.valid_fraction=0.5", "evaluator.epochs=20"],
    "c8n1_16px_20k_e20": ["space.C=8", "space.N=1", "task.train_size=30000",
                          "task.valid_fraction=0.3334", "evaluator.epochs=20"],
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "proxy_sweep", table=True)
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--cells", type=int, default=30, help="random cells per setting")
    p.add_argument("--seed", type=int, default=0, help="seed of the cell sample")
    p.add_argument("--noise-seeds", type=int, nargs="*", default=[1, 2])
    p.add_argument("--noise-cells", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    return p.parse_args(argv)


def jobs_for(setting: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every training of one setting: random cells, reference cells, noise reruns."""
    from nasforge.spaces.nb201 import NB201Space

    rng = np.random.default_rng(args.seed)
    space = NB201Space()
    random_cells = [(f"random_{i}", space.format(space.sample(rng))) for i in range(args.cells)]
    cells = [(BASE_SEED, "random", n, a) for n, a in random_cells]
    cells += [(BASE_SEED, "reference", n, a) for n, a in REFERENCE_CELLS.items()]
    cells += [(s, "noise", n, a) for s in args.noise_seeds for n, a in
              random_cells[:args.noise_cells]]
    return [{"setting": setting, "seed": s, "group": g, "name": n, "arch": a}
            for s, g, n, a in cells]


def job_key(job: dict[str, Any]) -> tuple[str, int, str]:
    return job["setting"], job["seed"], job["arch"]


_EVALUATORS: dict[tuple[str, int], Any] = {}  # per worker process: one task per setting+seed


def train_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one cell in a worker process (one torch thread)."""
    import torch

    from nasforge.config import load_config

    torch.set_num_threads(1)
    key = (job["setting"], job["seed"])
    if key not in _EVALUATORS:
        config = load_config(str(BASE_CONFIG), SETTINGS[job["setting"]])
        _EVALUATORS[key] = make_evaluator(config, job["seed"])
    space, evaluator = _EVALUATORS[key]
    cpu = time.process_time()
    result = evaluator.evaluate(space.parse(job["arch"]))
    # CPU seconds of this one-thread process: the work a cell costs, whatever else runs
    return {**job, "status": result.status, "valid_acc": result.metrics.get("valid_acc"),
            "test_acc": result.metrics.get("test_acc"), "seconds": result.cost,
            "cpu_seconds": time.process_time() - cpu, "params": result.params}


def load_log() -> dict[tuple[str, int, str], dict[str, Any]]:
    if not CELL_LOG.is_file():
        return {}
    rows = [json.loads(line) for line in CELL_LOG.read_text().splitlines() if line.strip()]
    return {job_key(r): r for r in rows}


def run_jobs(jobs: list[dict[str, Any]], workers: int) -> None:
    """Train the jobs not yet in the log, appending each result as it arrives."""
    done = load_log()
    todo = [j for j in jobs if job_key(j) not in done]
    if not todo:
        return
    CELL_LOG.parent.mkdir(parents=True, exist_ok=True)
    with mp.get_context("spawn").Pool(workers) as pool, CELL_LOG.open("a") as log_file:
        for row in tqdm(pool.imap_unordered(train_one, todo), total=len(todo), unit="cell",
                        desc="proxy sweep", mininterval=10):
            log_file.write(json.dumps(row) + "\n")
            log_file.flush()


def setting_summary(setting: str, jobs: list[dict[str, Any]], table: Any) -> dict[str, Any]:
    done = load_log()
    rows = [{**done[job_key(j)], TABLE_COLUMN: table.value(j["arch"], TABLE_COLUMN)}
            for j in jobs if job_key(j) in done]
    random_rows = [r for r in rows if r["group"] == "random"]
    refs = [r for r in rows if r["group"] == "reference"]
    reruns: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["group"] == "noise":
            reruns.setdefault(r["seed"], []).append(r)
    summary = summarise(random_rows)
    cpu = [r["cpu_seconds"] for r in random_rows if r.get("cpu_seconds") is not None]
    summary["cpu_seconds_per_cell"] = float(np.mean(cpu)) if cpu else None
    noise_info = noise(random_rows, reruns, BASE_SEED) if reruns else None
    spread_std = summary["valid"]["std"]
    return {
        "overrides": SETTINGS[setting], "summary": summary, "noise": noise_info,
        "noise_over_spread": noise_info["mean_std"] / spread_std if noise_info else None,
        "references": {r["name"]: {"valid_acc": r["valid_acc"], "test_acc": r["test_acc"],
                                   TABLE_COLUMN: r[TABLE_COLUMN]} for r in refs},
        "skip_minus_conv": _skip_gap(refs),
        "cells": rows,
    }


def _skip_gap(refs: list[dict[str, Any]]) -> float | None:
    by_name = {r["name"]: r["valid_acc"] for r in refs}
    if "all_skip" in by_name and "all_conv3x3" in by_name:
        return by_name["all_skip"] - by_name["all_conv3x3"]
    return None


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    for name, r in results.items():
        s = r["summary"]
        ax.scatter(s["cpu_seconds_per_cell"], s["valid"]["kendall_tau"], s=40)
        ax.annotate(name, (s["cpu_seconds_per_cell"], s["valid"]["kendall_tau"]),
                    fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.axhline(0.65, color="gray", ls="--", lw=0.8, label="target tau 0.65")
    ax.set_xlabel("CPU seconds per cell (one thread)")
    ax.set_ylabel("Kendall tau vs NB201 c10_test")
    ax.set_title("CIFAR-10 proxy settings", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from nasforge.evaluators.table import NB201Table

    table = NB201Table(start(args))
    results = {}
    for setting in args.settings:
        jobs = jobs_for(setting, args)
        run_jobs(jobs, args.workers)
        results[setting] = setting_summary(setting, jobs, table)
        # after every setting: a sweep stopped later keeps the settings it has
        finish(args.out, {"base_config": "configs/proxy_cifar10.yaml", "settings": results},
               lambda payload, path: plot(payload["settings"], path))
    print(markdown(results))
    return 0


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| setting | tau (valid vs c10_test) | spread (std) | seed noise std | noise/spread "
             "| all-skip - all-conv3x3 | CPU s/cell |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        s, n = r["summary"], r["noise"]
        gap = r["skip_minus_conv"]
        lines.append(
            f"| {name} | {s['valid']['kendall_tau']:.3f} | {s['valid']['spread']:.1f} "
            f"({s['valid']['std']:.1f}) | {n['mean_std']:.2f} | {r['noise_over_spread']:.2f} | "
            f"{gap if gap is None else f'{gap:+.1f}'} | {s['cpu_seconds_per_cell']:.0f} |"
            if n else f"| {name} | {s['valid']['kendall_tau']:.3f} | - | - | - | - | - |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
