"""The one-shot methods on CIFAR-10, judged on equal terms: every (method, seed) run as a user
would run it, then its selected cell looked up in the NB201 table and placed among the random
cells trained from scratch on the same proxy.

Each run is ``nasforge search CONFIG --set seed=S --out runs/oneshot_cifar10/METHOD-sS`` (the
CLI: the public path, with its checkpoints; a killed run is continued with ``--resume``). Its
selected cell gets:

- ``c10_test`` / ``c100_test`` / ``in16_test``: the NB201 table (200 epochs), reporting only;
- ``proxy_percentile``: the share of the proxy table's random cells
  (``results/proxy_table_cifar10.csv``, trained from scratch on ``configs/proxy_cifar10.yaml``)
  whose proxy validation accuracy is below the selected cell's own, trained the same way (read
  from the table when it holds the cell, else trained once and kept in
  ``results/proxy_extra_cells.jsonl``);
- ``seconds``: the run's wall time, summed over resumes.

``random`` is random search at the same wall-clock: for seed S, proxy-table cells in a seeded
random order until their training seconds reach the mean wall time of that seed's one-shot
runs; the best by proxy validation accuracy is the pick. Every row is appended to
``results/oneshot_cifar10.csv`` (columns ``method, seed, arch, c10_test, proxy_percentile,
seconds``, plus the other table columns); ``results/oneshot_cifar10.json`` + ``.png``
summarise it per method (mean +- std and per seed).

    .venv/bin/python benchmarks/oneshot_cifar10.py --methods darts_pt random --seeds 0 1 2
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import csv
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from common import (
    REPO,
    RESULTS,
    mean_std,
    nb201_table_path,
    new_figure,
    save_figure,
    setup_logging,
    write_json,
)

from nasforge.components import build, resolve_device
from nasforge.config import load_config
from nasforge.evaluators.table import NB201Table
from nasforge.spaces.nb201 import NB201Space
from nasforge.task import Shape

RUNS = REPO / "runs" / "oneshot_cifar10"
ROWS = RESULTS / "oneshot_cifar10.csv"
PROXY_TABLE = RESULTS / "proxy_table_cifar10.csv"
EXTRA_CELLS = RESULTS / "proxy_extra_cells.jsonl"
PROXY_CONFIG = REPO / "configs" / "proxy_cifar10.yaml"
PROXY_SEED = 100  # the proxy table's run seed: extra cells train exactly as the table's did
COLUMNS = ("method", "seed", "arch", "c10_test", "c100_test", "in16_test", "proxy_valid",
           "proxy_percentile", "seconds")
METHODS: dict[str, tuple[str, list[str]]] = {
    "darts": ("darts_nb201_cifar10.yaml", []),
    "darts_pt": ("dartspt_nb201_cifar10.yaml", []),
    "fixed_alpha_pt": ("fixedpt_nb201_cifar10.yaml", []),
    "spos": ("spos_nb201_cifar10.yaml", []),
    "spos_flops": ("spos_nb201_cifar10.yaml", ["selection.strategy.constraints="
                                               "{max_flops: MEDIAN_FLOPS}"]),
    "pgnas_nb201": ("pgnas_nb201_cifar10.yaml", []),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="*", default=[*METHODS, "random"],
                   choices=[*METHODS, "random"])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="extra override for every one-shot run, e.g. strategy.epochs=100")
    p.add_argument("--table", default=None, help="nb201_compact.csv.gz (default: shared)")
    return p.parse_args(argv)


def median_flops(samples: int = 500) -> float:
    """The median FLOPs of random NB201 cells on the proxy's input (C=8, N=1, 16x16)."""
    space = NB201Space(C=8, N=1)
    rng = np.random.default_rng(0)
    shape = Shape((3, 16, 16), 10)
    return float(np.median([space.cost(space.sample(rng), shape).flops for _ in range(samples)]))


def run_method(method: str, seed: int, overrides: list[str]) -> tuple[dict[str, Any], float]:
    """Run (or continue) one search through the CLI; its best.json and summed wall seconds."""
    config, extra = METHODS[method]
    run_dir = RUNS / f"{method}-s{seed}"
    clock = RUNS / f"{method}-s{seed}.seconds"
    if not (run_dir / "best.json").is_file():
        if (run_dir / "trials.sqlite").is_file():
            command = ["--resume", str(run_dir)]
        else:
            sets = [s.replace("MEDIAN_FLOPS", f"{median_flops():.0f}") for s in extra]
            sets += [f"seed={seed}", *overrides]
            command = [str(REPO / "configs" / config), "--out", str(run_dir),
                       *[a for s in sets for a in ("--set", s)]]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nasforge", "search", *command], check=True,
                       cwd=REPO)
        spent = time.perf_counter() - start
        clock.parent.mkdir(parents=True, exist_ok=True)
        clock.write_text(str(float(clock.read_text() if clock.is_file() else 0) + spent))
    return json.loads((run_dir / "best.json").read_text()), float(clock.read_text())


def proxy_rows() -> list[dict[str, Any]]:
    with PROXY_TABLE.open() as handle:
        return [{**r, "proxy_valid": float(r["proxy_valid"]), "seconds": float(r["seconds"])}
                for r in csv.DictReader(handle)]


def proxy_valid_of(arch: str, table_rows: list[dict[str, Any]]) -> float:
    """The cell's proxy validation accuracy, trained from scratch as the proxy table's cells."""
    space = NB201Space()
    key = space.parse(arch).key()
    for row in table_rows:
        if space.parse(row["arch"]).key() == key:
            return float(row["proxy_valid"])
    extra = [json.loads(x) for x in EXTRA_CELLS.read_text().splitlines()] \
        if EXTRA_CELLS.is_file() else []
    for row in extra:
        if row["key"] == key:
            return float(row["proxy_valid"])
    value = train_on_proxy(arch)
    with EXTRA_CELLS.open("a") as handle:
        handle.write(json.dumps({"arch": arch, "key": key, "proxy_valid": value}) + "\n")
    return value


def train_on_proxy(arch: str) -> float:
    config = load_config(PROXY_CONFIG)
    space = build("space", config.space)
    task = build("task", config.task, seed=PROXY_SEED)  # type: ignore[arg-type]
    evaluator = build("evaluator", config.evaluator, space=space, task=task, seed=PROXY_SEED,
                      device=resolve_device(config.device))
    return float(evaluator.evaluate(space.parse(arch)).metrics["valid_acc"])


def percentile(value: float, table_rows: list[dict[str, Any]]) -> float:
    below = sum(r["proxy_valid"] < value for r in table_rows)
    ties = sum(r["proxy_valid"] == value for r in table_rows)
    return 100.0 * (below + 0.5 * ties) / len(table_rows)


def random_at_equal_time(seed: int, seconds: float, table_rows: list[dict[str, Any]]
                         ) -> dict[str, Any]:
    """Random search replayed on the proxy table: cells in a seeded order until their
    training seconds reach ``seconds``; the best by proxy validation accuracy."""
    order = np.random.default_rng(seed).permutation(len(table_rows))
    spent, seen = 0.0, []
    for i in order:
        seen.append(table_rows[i])
        spent += table_rows[i]["seconds"]
        if spent >= seconds:
            break
    best = max(seen, key=lambda r: r["proxy_valid"])
    return {"arch": best["arch"], "proxy_valid": best["proxy_valid"], "seconds": spent,
            "cells": len(seen)}


def done_rows() -> list[dict[str, str]]:
    if not ROWS.is_file():
        return []
    with ROWS.open() as handle:
        return list(csv.DictReader(handle))


def append_row(row: dict[str, Any]) -> None:
    new = not ROWS.is_file()
    with ROWS.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: row[k] for k in COLUMNS})


def table_columns(arch: str, table: NB201Table) -> dict[str, float]:
    return {c: table.value(arch, c) for c in ("c10_test", "c100_test", "in16_test")}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    table = NB201Table(nb201_table_path(args.table))
    rows_of_table = proxy_rows()
    finished = {(r["method"], int(r["seed"])) for r in done_rows()}
    for seed in args.seeds:
        for method in [m for m in args.methods if m != "random"]:
            if (method, seed) in finished:
                continue
            best, seconds = run_method(method, seed, args.overrides)
            arch = best["arch_str"]
            value = proxy_valid_of(arch, rows_of_table)
            append_row({"method": method, "seed": seed, "arch": arch, "seconds": seconds,
                        "proxy_valid": value, "proxy_percentile": percentile(value, rows_of_table),
                        **table_columns(arch, table)})
        if "random" in args.methods and ("random", seed) not in finished:
            spent = [float(r["seconds"]) for r in done_rows()
                     if int(r["seed"]) == seed and r["method"] != "random"]
            if spent:
                pick = random_at_equal_time(seed, float(np.mean(spent)), rows_of_table)
                append_row({"method": "random", "seed": seed, **pick,
                            "proxy_percentile": percentile(pick["proxy_valid"], rows_of_table),
                            **table_columns(pick["arch"], table)})
    summarise()
    return 0


def summarise() -> None:
    by_method: dict[str, list[dict[str, str]]] = {}
    for row in done_rows():
        by_method.setdefault(row["method"], []).append(row)
    summary = {m: {"c10_test": mean_std(float(r["c10_test"]) for r in rows),
                   "proxy_percentile": mean_std(float(r["proxy_percentile"]) for r in rows),
                   "seconds": mean_std(float(r["seconds"]) for r in rows),
                   "per_seed": rows} for m, rows in by_method.items()}
    write_json(RESULTS / "oneshot_cifar10.json", {"methods": summary})
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    for i, rows in enumerate(summary.values()):
        values = [float(r["c10_test"]) for r in rows["per_seed"]]
        ax.scatter([i] * len(values), values, s=18, color="tab:blue")
        ax.errorbar(i, rows["c10_test"][0], yerr=rows["c10_test"][1], fmt="_", color="k",
                    markersize=14, capsize=4)
    ax.set_xticks(range(len(summary)), list(summary), rotation=20, fontsize=8)
    ax.set_ylabel("selected cell: NB201 CIFAR-10 test (%)")
    ax.set_title("One-shot methods on CIFAR-10 (NB201 space)", fontsize=9)
    ax.grid(alpha=0.3)
    save_figure(fig, RESULTS / "oneshot_cifar10.png")


if __name__ == "__main__":
    sys.exit(main())
