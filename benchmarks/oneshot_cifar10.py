"""The one-shot methods on CIFAR-10, judged on equal terms: every (method, seed) run as a user
would run it, then its selected cell looked up in the NB201 table and placed among the random
cells trained from scratch on the same proxy.

Each run is ``nasforge search CONFIG --set seed=S --out runs/oneshot_cifar10/METHOD-sS`` (the
CLI: the public path, with its checkpoints; a killed run is continued with ``--resume``). The
runs a later session still needs (in flight, or finished but without their row, or adopted by
a method without its row yet) are snapshotted into ``benchmarks/state/oneshot_cifar10``
(``carry.py``), from which a fresh checkout continues; a run leaves the snapshot once its row
is in the CSV, and the snapshot is released when nothing is left. Each selected cell gets:

- ``c10_test`` / ``c100_test`` / ``in16_test``: the NB201 table (200 epochs), reporting only;
- ``proxy_percentile``: the share of the proxy table's random cells
  (``results/proxy_table_cifar10.csv``, trained from scratch on ``configs/proxy_cifar10.yaml``)
  whose proxy validation accuracy is below the selected cell's own, trained the same way (read
  from the table when it holds the cell, else trained once and kept in
  ``results/proxy_extra_cells.jsonl``);
- ``seconds`` / ``cpu_seconds``: the run's wall time and CPU time (all threads), summed over
  resumes (plus, for a selection made on another run's trained supernet, that supernet's
  training). The machine is shared by the benchmarks, so wall time depends on the load; CPU
  time much less.

``random`` is random search at equal compute: for seed S, as many proxy-table cells (in a
seeded random order) as the mean CPU time of that seed's one-shot runs trains on the proxy
(one cell: the proxy sweep's mean CPU seconds at the chosen setting); the best by proxy
validation accuracy is the pick (remade by every run of this script, as the table grows).
``random_flops`` is the same within the FLOPs-limited SPOS rows' limit, at their mean CPU time.
Every one-shot row is appended to ``results/oneshot_cifar10.csv``
(columns ``method, seed, arch, c10_test, proxy_percentile, seconds``, plus the other table
columns and ``proxy_valid``, ``cpu_seconds``); ``results/oneshot_cifar10.json`` + ``.png``
summarise it per method (mean +- std and per seed). Percentiles are recomputed against the
proxy table as it is at every run of this script.

    .venv/bin/python benchmarks/oneshot_cifar10.py --methods darts_pt --seeds 0 1 2
    .venv/bin/python benchmarks/oneshot_cifar10.py --summary-only   # percentiles, random rows
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import csv
import fcntl
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cli_runs
import numpy as np
from carry import restore_missing, snapshot
from cli_runs import Clock
from common import REPO, RESULTS, mean_std, new_figure, save_figure
from skeleton import finish, parser, start

from nasforge.config import load_config
from nasforge.evaluators.table import NB201Table
from nasforge.run.components import build, resolve_device
from nasforge.run.store import TrialStore
from nasforge.spaces.nb201 import NB201Space
from nasforge.task import Shape

RUNS = REPO / "runs" / "oneshot_cifar10"
STATE = "oneshot_cifar10"  # the snapshot of the runs in flight (carry.py)
ROWS = RESULTS / "oneshot_cifar10.csv"
PROXY_TABLE = RESULTS / "proxy_table_cifar10.csv"
EXTRA_CELLS = RESULTS / "proxy_extra_cells.jsonl"
PROXY_CONFIG = REPO / "configs" / "proxy_cifar10.yaml"
PROXY_SWEEP = RESULTS / "proxy_sweep.json"
PAPER = {  # CIFAR-10 test accuracy of the selected cell (shared METHODS.md)
    "darts": "54.30 (NB201 paper: DARTS-V1)", "darts_allow_none": "54.30 (NB201's own code)",
    "darts_pt": "88.11 (DARTS-PT, Table 1)", "fixed_alpha_pt": "93.80 (DARTS-PT, Table 1)",
    "darts_e150": "54.30 (NB201 paper: DARTS-V1)", "darts_pt_e150": "88.11 (DARTS-PT, Table 1)",
    "random": "93.70 (NB201 paper, 12,000 s)",
    "random_flops": "(random search within the FLOPs limit of the spos_*flops rows)",
}
# compared with ``random_flops``
FLOPS_LIMITED = ("spos_flops", "spos_e150_flops", "spos_e150_fb_flops")
PROXY_SETTING = "c8n1_16px_10k_e20"  # the sweep's setting that configs/proxy_cifar10.yaml is
PROXY_SEED = 100  # the proxy table's run seed: extra cells train exactly as the table's did
COLUMNS = ("method", "seed", "arch", "c10_test", "c100_test", "in16_test", "proxy_valid",
           "proxy_percentile", "seconds", "cpu_seconds")
# method: (config, overrides, the method whose trained supernet it selects on, or None).
# Selections the papers compare on one supernet share it (``supernet_from``): DARTS's argmax
# and DARTS-PT's perturbation, SPOS's evolution with and without the FLOPs limit, PGNAS's
# guided and random-rate sampling. Their ``seconds`` count the supernet's training once more.
METHODS: dict[str, tuple[str, list[str], str | None]] = {
    "darts": ("darts_nb201_cifar10.yaml", [], None),
    "darts_pt": ("dartspt_nb201_cifar10.yaml", [], "darts"),
    # NB201's own DARTS code takes the argmax over all five ops, `none` included (its 54.30)
    "darts_allow_none": ("darts_nb201_cifar10.yaml", ["selection.allow_none=true"], "darts"),
    "fixed_alpha_pt": ("fixedpt_nb201_cifar10.yaml", [], None),
    "spos": ("spos_nb201_cifar10.yaml", [], None),
    "spos_flops": ("spos_nb201_cifar10.yaml", ["selection.strategy.constraints="
                                               "{max_flops: MEDIAN_FLOPS}"], "spos"),
    # DARTS-PT's premise is that skip grows as the supernet converges: the same, trained 3x
    # as long (150 epochs: about 23,500 alpha steps; NB201's DARTS took 19,500 in its 50)
    "darts_e150": ("darts_nb201_cifar10.yaml", ["strategy.epochs=150"], None),
    "darts_pt_e150": ("dartspt_nb201_cifar10.yaml", ["strategy.epochs=150"], "darts_e150"),
    "spos_e150": ("spos_nb201_cifar10.yaml", ["strategy.epochs=150"], None),
    "spos_e150_flops": ("spos_nb201_cifar10.yaml", ["strategy.epochs=150",
                                                    "selection.strategy.constraints="
                                                    "{max_flops: MEDIAN_FLOPS}"], "spos_e150"),
    # the authors' code samples paths uniformly over FLOPs bins, not over paths: conv-heavy
    # paths, rare under uniform sampling, train as often as the rest (SPOS's ranking favours
    # skip-heavy cells under uniform sampling: results/spos_ranking_e150_*cifar10.json)
    "spos_e150_fb": ("spos_nb201_cifar10.yaml", ["strategy.epochs=150",
                                                 "strategy.sampling=flops_bins"], None),
    "spos_e150_fb_flops": ("spos_nb201_cifar10.yaml", ["strategy.epochs=150",
                                                       "strategy.sampling=flops_bins",
                                                       "selection.strategy.constraints="
                                                       "{max_flops: MEDIAN_FLOPS}"],
                           "spos_e150_fb"),
    # does its ranking keep improving with training, as uniform sampling's did 50 -> 150?
    "spos_e300_fb": ("spos_nb201_cifar10.yaml", ["strategy.epochs=300",
                                                 "strategy.sampling=flops_bins"], None),
    "pgnas_nb201": ("pgnas_nb201_cifar10.yaml", [], None),
    "pgnas_random_nb201": ("pgnas_nb201_cifar10.yaml", ["selection.sampling=mean_rate"],
                           "pgnas_nb201"),
    # Bender et al.'s baseline on its own supernet: trained and sampled with hard dropout at
    # one constant rate, pgnas_nb201's learned mean drop rate of the same seed (LEARNED_P)
    "pgnas_bender_nb201": ("pgnas_nb201_cifar10.yaml", [
        "strategy.dropout=fixed", "strategy.fixed_rate=LEARNED_P", "selection.sampling=fixed",
        "selection.fixed_rate=LEARNED_P"], None),
}
LEARNED_FROM = "pgnas_nb201"  # the run whose learned mean drop rate LEARNED_P stands for


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, seeds=[0, 1, 2], seeds_nargs="*", table=True, overrides=True)
    p.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS),
                   help="one-shot methods to run (the random rows are made by every summary)")
    p.add_argument("--summary-only", action="store_true",
                   help="only rewrite the summary (percentiles against the current table)")
    return p.parse_args(argv)


PROXY_SPACE, PROXY_SHAPE = NB201Space(C=8, N=1), Shape((3, 16, 16), 10)  # the supernets' cells


def median_flops(samples: int = 500) -> float:
    """The median FLOPs of random NB201 cells on the proxy's input (C=8, N=1, 16x16)."""
    rng = np.random.default_rng(0)
    return float(np.median([PROXY_SPACE.cost(PROXY_SPACE.sample(rng), PROXY_SHAPE).flops
                            for _ in range(samples)]))


def within_flops_limit(arch: str, limit: float) -> bool:
    """Whether the cell ``arch`` (an NB201 string) is within ``limit`` FLOPs on the proxy."""
    return PROXY_SPACE.cost(PROXY_SPACE.parse(arch), PROXY_SHAPE).flops <= limit


def run_method(method: str, seed: int, overrides: list[str]) -> tuple[dict[str, Any], Clock]:
    """Run (or continue) one search through the CLI; its best.json and its clock: the summed
    wall and CPU time of its runs, plus the source's supernet training when it adopted one."""
    config, extra, source = METHODS[method]
    run_dir = RUNS / f"{method}-s{seed}"
    clock_file = RUNS / f"{method}-s{seed}.clock.json"
    sets = resolve_placeholders(extra, seed, overrides)
    source_clock = None
    if source is not None:
        _, source_clock = run_method(source, seed, overrides)  # its trained supernet first
        sets.append(f"supernet_from={RUNS / f'{source}-s{seed}'}")
    if cli_runs.search(REPO / "configs" / config, run_dir, [*sets, f"seed={seed}", *overrides],
                       clock_file):
        snapshot_runs()
    clock = Clock.read(clock_file)
    if source is not None and source_clock is not None:
        clock = plus_training_of(clock, source_clock, RUNS / f"{source}-s{seed}")
    return json.loads((run_dir / "best.json").read_text()), clock


def resolve_placeholders(sets: list[str], seed: int, overrides: list[str]) -> list[str]:
    """The overrides with MEDIAN_FLOPS and LEARNED_P filled in, each computed only when used
    (LEARNED_P runs, or continues, the same seed's pgnas_nb201 first: its posterior)."""
    def learned_p() -> str:
        run_method(LEARNED_FROM, seed, overrides)
        return f"{learned_mean_rate(RUNS / f'{LEARNED_FROM}-s{seed}'):.4f}"

    values = {"MEDIAN_FLOPS": lambda: f"{median_flops():.0f}", "LEARNED_P": learned_p}
    for name, value in values.items():
        if any(name in s for s in sets):
            text = value()
            sets = [s.replace(name, text) for s in sets]
    return sets


def learned_mean_rate(run_dir: Path) -> float:
    """A PGNAS run's mean drop probability after its last epoch (its ``history.json``)."""
    history = json.loads((run_dir / "history.json").read_text())
    return float(history[-1]["mean_drop_p"])


def plus_training_of(clock: Clock, source: Clock, source_dir: Path) -> Clock:
    """A run's time plus the source run's supernet training (its CPU time taken in proportion
    to the training's share of its wall time)."""
    train = supernet_seconds(source_dir)
    share = train / source.seconds if source.seconds else 0.0
    return Clock(clock.seconds + train, clock.cpu_seconds + share * source.cpu_seconds)


def snapshot_runs() -> None:
    """The runs a later session still needs into ``benchmarks/state/oneshot_cifar10``
    (``carry.py``: the runs take several sessions, and a fresh checkout continues from
    there): every run but those whose row, and whose dependents' rows, the CSV holds. With
    every row written the snapshot is released: the repository keeps the CSV, not the runs."""
    if RUNS.is_dir():
        with rows_locked():  # one driver at a time writes the snapshot
            recorded = {(r["method"], int(r["seed"])) for r in done_rows()}
            snapshot(RUNS, STATE, skip=lambda path: recorded_run(path, recorded))


def recorded_run(path: Path, recorded: set[tuple[str, int]]) -> bool:
    """Whether ``path`` (a file below ``RUNS``) belongs to a run, or a run's clock, whose row
    is in the CSV and that no method still to run depends on (by adopting its supernet or
    reading its learned drop rate)."""
    name = path.relative_to(RUNS).parts[0].removesuffix(".clock.json")
    method, _, seed = name.rpartition("-s")
    if method not in METHODS or not seed.isdigit():
        return False
    users = [m for m, (_, extra, source) in METHODS.items()
             if source == method or (method == LEARNED_FROM and any("LEARNED_P" in s
                                                                    for s in extra))]
    return all((m, int(seed)) in recorded for m in (method, *users))


def supernet_seconds(run_dir: Path) -> float:
    """Wall time the run spent training its supernet (recorded by the one-shot runner)."""
    with TrialStore(run_dir / "trials.sqlite") as store:
        return float(store.get_meta("supernet_seconds"))


def proxy_rows() -> list[dict[str, Any]]:
    if not PROXY_TABLE.is_file():
        return []
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
    if not table_rows:
        return float("nan")
    below = sum(r["proxy_valid"] < value for r in table_rows)
    ties = sum(r["proxy_valid"] == value for r in table_rows)
    return 100.0 * (below + 0.5 * ties) / len(table_rows)


def proxy_cell_cpu_seconds() -> float:
    """CPU seconds (one thread) to train one random cell on the proxy: the proxy sweep's
    mean over its random cells at the chosen setting, measured without other load."""
    sweep = json.loads(PROXY_SWEEP.read_text())["settings"][PROXY_SETTING]
    return float(sweep["summary"]["cpu_seconds_per_cell"])


def random_at_equal_compute(seed: int, cpu_seconds: float, table_rows: list[dict[str, Any]],
                            per_cell: float | None = None) -> dict[str, Any]:
    """Random search replayed on the proxy table: as many cells, in a seeded random order,
    as the one-shot runs' CPU time trains on the proxy (``per_cell`` CPU seconds each;
    default the proxy sweep's mean); the best by proxy validation accuracy. ``seconds``
    sums the wall time the table recorded for those cells."""
    per_cell = per_cell or proxy_cell_cpu_seconds()
    count = int(np.clip(round(cpu_seconds / per_cell), 1, len(table_rows)))
    order = np.random.default_rng(seed).permutation(len(table_rows))[:count]
    seen = [table_rows[i] for i in order]
    best = max(seen, key=lambda r: r["proxy_valid"])
    return {"arch": best["arch"], "proxy_valid": best["proxy_valid"], "cells": count,
            "seconds": sum(r["seconds"] for r in seen), "cpu_seconds": count * per_cell}


def done_rows() -> list[dict[str, str]]:
    if not ROWS.is_file():
        return []
    with ROWS.open() as handle:
        return list(csv.DictReader(handle))


@contextmanager
def rows_locked() -> Iterator[None]:
    """Several drivers (one per method, in parallel) share the CSV: one writer at a time."""
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    with open(ROWS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_row(row: dict[str, Any]) -> None:
    with rows_locked():
        _append(row)


def _append(row: dict[str, Any]) -> None:
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
    table = NB201Table(start(args))
    rows_of_table = proxy_rows()
    restore_missing(STATE, RUNS)  # the runs (and clocks) of the snapshot this checkout lacks
    if not args.summary_only:
        run_missing_rows(args, rows_of_table, table)
    summarise(rows_of_table, table)
    snapshot_runs()  # what is still needed; released once every row is written
    return 0


def run_missing_rows(args: argparse.Namespace, rows_of_table: list[dict[str, Any]],
                     table: NB201Table) -> None:
    """Run (or continue) every (method, seed) asked for without a row yet; append its row."""
    finished = {(r["method"], int(r["seed"])) for r in done_rows()}
    for seed in args.seeds:
        for method in args.methods:
            if (method, seed) in finished:
                continue
            best, clock = run_method(method, seed, args.overrides)
            arch = best["arch_str"]
            value = proxy_valid_of(arch, rows_of_table)
            append_row({"method": method, "seed": seed, "arch": arch, "seconds": clock.seconds,
                        "cpu_seconds": clock.cpu_seconds, "proxy_valid": value,
                        "proxy_percentile": percentile(value, rows_of_table),
                        **table_columns(arch, table)})


def refresh_rows(table_rows: list[dict[str, Any]], table: NB201Table) -> list[dict[str, Any]]:
    """The CSV against the proxy table as it is now (it grows across sessions, and a
    percentile or a replayed random search is only comparable on one table): every row's
    percentile recomputed, and per seed one ``random`` row at the mean CPU time of that
    seed's one-shot rows. Rewritten in place."""
    with rows_locked():
        rows: list[dict[str, Any]] = [r for r in done_rows()
                                      if r["method"] not in ("random", "random_flops")]
        for seed in sorted({int(r["seed"]) for r in rows}) if table_rows else []:
            spent = [float(r["cpu_seconds"]) for r in rows if int(r["seed"]) == seed]
            pick = random_at_equal_compute(seed, float(np.mean(spent)), table_rows)
            rows.append({"method": "random", "seed": seed, **pick,
                         **table_columns(pick["arch"], table)})
        rows += random_under_flops_limit(rows, table_rows, table)
        for row in rows:
            row["proxy_percentile"] = percentile(float(row["proxy_valid"]), table_rows)
        with ROWS.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return rows


def random_under_flops_limit(rows: list[dict[str, Any]], table_rows: list[dict[str, Any]],
                             table: NB201Table) -> list[dict[str, Any]]:
    """SPOS's constrained search against its baseline: per seed with FLOPs-limited SPOS rows
    (``FLOPS_LIMITED``), a ``random_flops`` row, random search among the
    proxy table's cells within the same FLOPs limit (the median of random cells) at the mean
    CPU time of those rows. Cells within the limit train
    faster, so random search gets the more of them: the sweep's per-cell CPU time scaled by
    the wall time the table recorded for them relative to all its cells."""
    limit = median_flops()
    within = [r for r in table_rows if within_flops_limit(r["arch"], limit)]
    if not within:
        return []
    relative_cost = np.mean([r["seconds"] for r in within]) / np.mean(
        [r["seconds"] for r in table_rows])
    spent: dict[int, list[float]] = {}
    for row in rows:
        if row["method"] in FLOPS_LIMITED:
            spent.setdefault(int(row["seed"]), []).append(float(row["cpu_seconds"]))
    out = []
    for seed, seconds in sorted(spent.items()):
        pick = random_at_equal_compute(seed, float(np.mean(seconds)), within,
                                       per_cell=relative_cost * proxy_cell_cpu_seconds())
        out.append({"method": "random_flops", "seed": seed, **pick,
                    **table_columns(pick["arch"], table)})
    return out


def pgnas_comparison(table: NB201Table, counts: Sequence[int] = (10, 50, 200)
                     ) -> list[dict[str, Any]]:
    """PGNAS's claim on one supernet per seed: the best of the first C candidates, drawn from
    the posterior (pgnas_nb201) vs at the mean rate (pgnas_random_nb201): its error (100 -
    inherited-weight accuracy, valid and test split) and its cell's NB201 c10_test; and, where
    it has run, Bender et al.'s fixed-dropout supernet sampled at that rate (``bender_*``).
    Seeds whose runs are gone (released once their rows were written) keep the rows of the
    earlier summary."""
    out = earlier_pgnas_rows()
    for guided_dir in sorted(RUNS.glob("pgnas_nb201-s*[0-9]")):
        seed = guided_dir.name.rsplit("-s", 1)[1]
        curves = {name: read_curve(RUNS / f"{method}-s{seed}" / "candidates.csv")
                  for name, method in (("guided", "pgnas_nb201"),
                                       ("random", "pgnas_random_nb201"),
                                       ("bender", "pgnas_bender_nb201"))}
        if not (curves["guided"] and curves["random"]):
            continue
        for count in counts:
            row: dict[str, Any] = {"seed": int(seed), "candidates": count}
            for name, curve in curves.items():
                point = curve.get(count)
                if point is not None:
                    row.update({f"{name}_valid_error": float(point["valid_error"]),
                                f"{name}_test_error": float(point["test_error"]),
                                f"{name}_c10_test": table.value(point["arch"], "c10_test")})
            out.append(row)
    return sorted(out, key=lambda r: (r["seed"], r["candidates"]))


def earlier_pgnas_rows() -> list[dict[str, Any]]:
    """The PGNAS comparison rows of the last summary whose guided run is not on disk."""
    summary = RESULTS / "oneshot_cifar10.json"
    if not summary.is_file():
        return []
    rows = json.loads(summary.read_text()).get("pgnas_guided_vs_random", [])
    return [r for r in rows if not (RUNS / f"pgnas_nb201-s{r['seed']}").is_dir()]


def read_curve(path: Path) -> dict[int, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open() as handle:
        return {int(r["candidates"]): r for r in csv.DictReader(handle)}


def summarise(table_rows: list[dict[str, Any]], table: NB201Table) -> None:
    by_method: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(refresh_rows(table_rows, table), key=lambda r: int(r["seed"])):
        by_method.setdefault(row["method"], []).append(row)  # per method, seeds in order
    summary = {m: {"c10_test": mean_std(float(r["c10_test"]) for r in rows),
                   "proxy_percentile": mean_std(float(r["proxy_percentile"]) for r in rows),
                   "seconds": mean_std(float(r["seconds"]) for r in rows),
                   "cpu_seconds": mean_std(float(r["cpu_seconds"]) for r in rows),
                   "per_seed": rows} for m, rows in by_method.items()}
    payload = {"proxy_table_cells": len(table_rows), "paper_c10_test": PAPER,
               "methods": summary, "pgnas_guided_vs_random": pgnas_comparison(table)}
    finish(RESULTS / "oneshot_cifar10", payload, plot, markdown)


def plot(payload: dict[str, Any], path: Path) -> None:
    """Every method's selected cells on the table, per seed, with mean +- std."""
    summary = payload["methods"]
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
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    """The README's table: one row per method, the papers' CIFAR-10 numbers beside it."""
    lines = [f"| method | seeds | NB201 c10_test, mean +- std (per seed) | proxy percentile "
             f"(of {payload['proxy_table_cells']} cells) | CPU s | paper's c10_test |",
             "|---|---|---|---|---|---|"]
    for method, m in payload["methods"].items():
        per_seed = " / ".join(f"{float(r['c10_test']):.2f}" for r in m["per_seed"])
        lines.append(f"| {method} | {len(m['per_seed'])} | {m['c10_test'][0]:.2f} +- "
                     f"{m['c10_test'][1]:.2f} ({per_seed}) | {m['proxy_percentile'][0]:.0f} | "
                     f"{m['cpu_seconds'][0]:.0f} | {PAPER.get(method, '')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
