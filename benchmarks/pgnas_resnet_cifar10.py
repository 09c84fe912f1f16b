"""PGNAS's claim on a CIFAR-10 multi-branch ResNet supernet: posterior-guided sampling finds a
better candidate than random sampling, for every number of candidates C.

Zhou et al. (AAAI 2020, Sec. 4 and Table 3 / Table 6) compare, without fine-tuning, the best
of C candidates drawn from the learned variational-dropout posterior with candidates drawn at a
fixed drop rate, and with Bender et al.'s (ICML 2018) baseline: a supernet trained with hard
dropout at one constant rate, sampled at that rate. Per seed, three searches, each as a user
would run it (``nasforge search configs/pgnas_resnet_cifar10.yaml`` in
``runs/pgnas_resnet_cifar10/VARIANT-sSEED``; a killed one continues where it stopped, a fresh
checkout from the snapshot in ``benchmarks/state/pgnas_resnet_cifar10`` while runs are in
flight; once every run has finished and the results are written the snapshot is released, and
the results keep the seeds whose runs are gone):

- ``guided``: the PGNAS supernet (SupNet-M: parallel 3/5/7 branches in every residual block),
  candidates sampled from its posterior;
- ``random``: the same trained supernet (``supernet_from``), candidates drawn with every unit
  dropped at the posterior's mean rate (as many units dropped on average);
- ``bender``: its own supernet trained with hard dropout at that same rate (the ``guided``
  run's learned mean drop rate of the same seed), sampled at that rate.

Each writes the best of its first C candidates (``candidates.csv``: error = 100 - inherited-
weight accuracy on the valid split, which selects, and on the held-out test split); this
script compares them at C = 10, 50, 200. Writes ``benchmarks/results/pgnas_resnet_cifar10.json``
and ``.png``. ``--sweep-l2`` instead trains the guided supernet at several prior length scales
l^2 (``..._l2_sweep.json``): the posterior it learns, to choose l^2 by training and valid
quantities (the paper grid-searched it).

Note: a small proxy of the paper's supernets (C=8, one block per stage, 16x16 images, 10,000
images train the supernet, 10,000 score the candidates, 50 epochs; the paper trained its
CIFAR-10 SupNet-M for hundreds of epochs at 32x32).

    .venv/bin/python benchmarks/pgnas_resnet_cifar10.py --seeds 0 1 2
    .venv/bin/python benchmarks/pgnas_resnet_cifar10.py --summary-only
    .venv/bin/python benchmarks/pgnas_resnet_cifar10.py --seeds 0 --sweep-l2 1 10 100 300 500 1000
    .venv/bin/python benchmarks/pgnas_resnet_cifar10.py --seeds 0 --runs /tmp/pg \\
        --set strategy.epochs=1 --set selection.candidates=20 --counts 5 10 20   # smoke test
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cli_runs
from carry import release, restore_missing, snapshot, unfinished
from common import REPO, display_path, mean_std, new_figure, save_figure, write_json
from oneshot_cifar10 import learned_mean_rate, read_curve
from skeleton import finish, parser, start

CONFIG = REPO / "configs" / "pgnas_resnet_cifar10.yaml"
RUNS = REPO / "runs" / "pgnas_resnet_cifar10"
STATE = "pgnas_resnet_cifar10"
SWEEP_CANDIDATES = 50
VARIANTS = ("guided", "random", "bender")
PAPER = ("posterior-guided sampling 14-23% relatively lower error than random sampling at a "
         "fixed rate, no fine-tuning (Zhou et al. 2020, Table 3)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "pgnas_resnet_cifar10", seeds=[0, 1, 2], seeds_nargs="*",
               overrides=True)
    p.add_argument("--counts", type=int, nargs="+", default=[10, 50, 200],
                   help="numbers of candidates C compared (at most selection.candidates)")
    p.add_argument("--runs", default=str(RUNS),
                   help="parent of the run directories (only the default one is snapshotted, "
                        "while its runs are in flight)")
    p.add_argument("--summary-only", action="store_true",
                   help="only summarise the runs that have finished")
    p.add_argument("--sweep-l2", type=float, nargs="*", default=[],
                   help="instead: the guided supernet alone at each prior length scale l^2 "
                        f"({SWEEP_CANDIDATES} candidates), its learned drop rate and errors")
    return p.parse_args(argv)


def sweep_l2(runs: Path, seed: int, values: Sequence[float], overrides: list[str]
             ) -> list[dict[str, Any]]:
    """The posterior the supernet learns at each l^2 (the paper grid-searched 0.1-2500: it
    trades error for size): the mean drop rate after training and the best candidate's
    errors. Only training and valid quantities may choose l^2."""
    out = []
    for value in values:
        run_dir = runs / f"l2sweep-{value:g}-s{seed}"
        sets = [f"seed={seed}", f"strategy.length_scale2={value}",
                f"selection.candidates={SWEEP_CANDIDATES}", *overrides]
        cli_runs.search(CONFIG, run_dir, sets, run_dir.with_suffix(".clock.json"))
        last = json.loads((run_dir / "history.json").read_text())[-1]
        best = read_curve(run_dir / "candidates.csv")[SWEEP_CANDIDATES]
        out.append({"length_scale2": value, "seed": seed, "run": display_path(run_dir),
                    "mean_drop_p": last["mean_drop_p"],
                    "train_acc": last["train_acc"], "best_arch": best["arch"],
                    "valid_error": float(best["valid_error"]),
                    "test_error": float(best["test_error"]),
                    **dataclasses.asdict(cli_runs.Clock.read(run_dir.with_suffix(
                        ".clock.json")))})
    return out


def run_seed(runs: Path, seed: int, overrides: list[str], carried: bool) -> None:
    """The three searches of one seed, each started or continued; ``bender`` waits for
    ``guided``'s learned mean drop rate."""
    base = [f"seed={seed}", *overrides]
    guided = runs / f"guided-s{seed}"
    plan: list[tuple[str, list[str]]] = [
        ("guided", base),
        ("random", [*base, "selection.sampling=mean_rate", f"supernet_from={guided}"]),
        ("bender", base),  # its rate is known once guided has trained
    ]
    for variant, sets in plan:
        if variant == "bender":
            rate = f"{learned_mean_rate(guided):.4f}"
            sets = [*sets, "strategy.dropout=fixed", f"strategy.fixed_rate={rate}",
                    "selection.sampling=fixed", f"selection.fixed_rate={rate}"]
        run_dir = runs / f"{variant}-s{seed}"
        try:
            cli_runs.search(CONFIG, run_dir, sets, run_dir.with_suffix(".clock.json"))
        finally:  # finished or stopped: the next session continues from the snapshot
            if carried:
                snapshot(runs, STATE)


def finished_seeds(runs: Path) -> list[int]:
    seeds = {int(p.name.rsplit("-s", 1)[1]) for p in runs.glob("guided-s*[0-9]")}
    return sorted(s for s in seeds
                  if all((runs / f"{v}-s{s}" / "best.json").is_file() for v in VARIANTS))


def seed_rows(runs: Path, seed: int, counts: Sequence[int]) -> list[dict[str, Any]]:
    """Per C: each variant's best-of-C valid and test error and branch channels kept, and
    guided's relative change of test error against random and against Bender (negative:
    guided lower)."""
    curves = {v: read_curve(runs / f"{v}-s{seed}" / "candidates.csv") for v in VARIANTS}
    rows = []
    for count in counts:
        row: dict[str, Any] = {"seed": seed, "candidates": count}
        for variant, curve in curves.items():
            point = curve[count]
            row[f"{variant}_valid_error"] = float(point["valid_error"])
            row[f"{variant}_test_error"] = float(point["test_error"])
            row[f"{variant}_arch"] = point["arch"]
            # candidates are compared at their size: guided may win by keeping more units
            row[f"{variant}_channels"] = sum(json.loads(point["arch"]).values())
        for other in ("random", "bender"):
            row[f"guided_vs_{other}_relative"] = (
                row["guided_test_error"] / row[f"{other}_test_error"] - 1.0)
        rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]], counts: Sequence[int]) -> list[dict[str, Any]]:
    """Per C, the mean +- std over seeds of every error and relative change, and on how many
    seeds guided has the lower test error than random."""
    out = []
    for count in counts:
        at = [r for r in rows if r["candidates"] == count]
        entry: dict[str, Any] = {"candidates": count, "seeds": len(at)}
        for key in at[0] if at else []:
            if key.endswith(("_error", "_relative", "_channels")):
                entry[key] = mean_std(r[key] for r in at)
        entry["guided_below_random_seeds"] = sum(
            r["guided_test_error"] < r["random_test_error"] for r in at)
        out.append(entry)
    return out


def run_info(runs: Path, seed: int) -> dict[str, Any]:
    out = {}
    for variant in VARIANTS:
        run_dir = runs / f"{variant}-s{seed}"
        out[variant] = dataclasses.asdict(cli_runs.Clock.read(run_dir.with_suffix(".clock.json")))
    out["learned_mean_drop_rate"] = learned_mean_rate(runs / f"guided-s{seed}")
    return out


def plot(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    colors = {"guided": "tab:blue", "random": "tab:gray", "bender": "tab:orange"}
    counts = [e["candidates"] for e in payload["summary"]]
    for variant, color in colors.items():
        for seed in payload["seeds"]:
            per = [r[f"{variant}_test_error"] for r in payload["rows"] if r["seed"] == seed]
            ax.plot(counts, per, color=color, alpha=0.3, lw=0.8)
        means = [e[f"{variant}_test_error"][0] for e in payload["summary"]]
        ax.plot(counts, means, "o-", color=color, label=f"{variant} (mean of "
                f"{len(payload['seeds'])} seeds)")
    ax.set_xscale("log")
    ax.set_xlabel("candidates C")
    ax.set_ylabel("test error of the best of C by valid error (%)")
    ax.set_title("PGNAS on a multi-branch ResNet supernet, CIFAR-10 16x16", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    lines = ["| C | guided: test error | random at the mean rate | Bender (fixed-dropout "
             "supernet) | guided vs random | guided vs Bender | seeds guided < random | "
             "channels kept: guided / random / Bender |",
             "|---|---|---|---|---|---|---|---|"]
    for e in payload["summary"]:
        errors = [f"{e[f'{v}_test_error'][0]:.2f} +- {e[f'{v}_test_error'][1]:.2f}"
                  for v in VARIANTS]
        changes = [f"{100 * e[k][0]:+.1f}% +- {100 * e[k][1]:.1f}"
                   for k in ("guided_vs_random_relative", "guided_vs_bender_relative")]
        channels = " / ".join(f"{e[f'{v}_channels'][0]:.0f}" for v in VARIANTS)
        lines.append(f"| {e['candidates']} | {' | '.join(errors)} | {' | '.join(changes)} | "
                     f"{e['guided_below_random_seeds']} of {e['seeds']} | {channels} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    runs = Path(args.runs)
    carried = runs.resolve() == RUNS.resolve()
    if carried:
        restore_missing(STATE, runs)
    if args.sweep_l2:
        rows = [r for seed in args.seeds for r in sweep_l2(runs, seed, args.sweep_l2,
                                                            args.overrides)]
        write_json(Path(args.out).with_name(Path(args.out).name + "_l2_sweep.json"),
                   {"config": display_path(CONFIG), "rows": rows})
    else:
        if not args.summary_only:
            for seed in args.seeds:
                run_seed(runs, seed, args.overrides, carried)
        finish(args.out, comparison(runs, args, carried), plot, markdown)
    if carried:
        settle(runs)
    return 0


def comparison(runs: Path, args: argparse.Namespace, carried: bool) -> dict[str, Any]:
    """Per seed and C the three variants' errors, and their summary over seeds: the seeds
    whose three runs have finished, plus (for the default runs) the seeds of the earlier
    results whose runs are no longer here (released once written)."""
    seeds = finished_seeds(runs)
    rows = [row for seed in seeds for row in seed_rows(runs, seed, args.counts)]
    info: dict[Any, Any] = {seed: run_info(runs, seed) for seed in seeds}
    earlier = Path(args.out).with_suffix(".json")
    if carried and earlier.is_file():
        kept = json.loads(earlier.read_text())
        gone = [seed for seed in kept["seeds"] if seed not in seeds]
        rows += [row for row in kept["rows"] if row["seed"] in gone]
        info.update({seed: kept["runs"][str(seed)] for seed in gone})
        seeds = sorted([*seeds, *gone])
    if not seeds:
        raise SystemExit("no seed has finished all three runs yet")
    return {"config": display_path(CONFIG), "overrides": args.overrides, "paper": PAPER,
            "seeds": seeds, "rows": sorted(rows, key=lambda r: (r["seed"], r["candidates"])),
            "summary": summary(rows, args.counts), "runs": dict(sorted(info.items()))}


def settle(runs: Path) -> None:
    """Snapshot the runs while any is in flight (a run unfinished, or a seed with some but not
    all of its three runs); with none, the results are written: release the snapshot."""
    started = {p.name.rsplit("-s", 1)[1] for v in VARIANTS for p in runs.glob(f"{v}-s*[0-9]")}
    if unfinished(runs) or len(started) > len(finished_seeds(runs)):
        snapshot(runs, STATE)
    else:
        release(STATE)


if __name__ == "__main__":
    sys.exit(main())
