"""Skip domination in the DARTS space S2: argmax of alpha vs perturbation-based selection.

Wang et al. (ICLR 2021, Sec. 3) show that in S2 = {skip_connect, sep_conv_3x3} DARTS's alpha
picks skip_connect on 12 of the 14 normal-cell edges although sep_conv is the stronger op on
about half of them. This script trains one DARTS supernet (first order) on S2 on a small proxy
(``configs/dartspt_s2.yaml``: MNIST-1D, C=4, 5 cells; ``configs/dartspt_s2_cifar10.yaml``: the
same cells on CIFAR-10 images), then selects twice from it, each as a user would (``nasforge
search`` in ``RUNS/CONFIG-sSEED/argmax`` and ``.../pt``; a killed run continues where it
stopped, and a fresh checkout from the snapshot in ``benchmarks/state/dartspt_s2`` while the
runs are in flight; once the results are written the snapshot is released):

- **argmax**: the op with the largest softmax(alpha) on every edge (this run trains the
  supernet);
- **PT**: perturbation-based selection on the argmax run's trained supernet
  (``supernet_from``); its op decision per edge (before the topology step) is the op whose
  removal gives the lowest validation accuracy (the selection's ``op`` scores).

It reports, for the 14 normal-cell edges and the 14 reduction-cell edges separately, the
fraction of edges on which each picks skip_connect, and the final genotypes.
Writes ``benchmarks/results/dartspt_s2.json`` and a bar chart ``dartspt_s2.png`` (``--out``).

    .venv/bin/python benchmarks/dartspt_s2.py                  # ~10 min on 2 shared cores
    .venv/bin/python benchmarks/dartspt_s2.py --config configs/dartspt_s2_cifar10.yaml \
        --out benchmarks/results/dartspt_s2_cifar10             # ~30-40 min of 2 cores
    .venv/bin/python benchmarks/dartspt_s2.py --epochs 1 --finetune-epochs 0 --runs /tmp/s2
    .venv/bin/python benchmarks/dartspt_s2.py --out benchmarks/results/dartspt_s2_cifar10_seeds \
        --combine benchmarks/results/dartspt_s2_cifar10{,_s1,_s2}.json   # seeds 0-2 together
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cli_runs
import numpy as np
from carry import release, restore_missing, snapshot
from common import REPO, display_path, mean_std, new_figure, save_figure
from dartspt_nb201 import pt_op_choices
from skeleton import finish, parser, start

from nasforge.config import load_config
from nasforge.run.store import TrialStore

log = logging.getLogger("benchmarks.dartspt_s2")

DEFAULT_CONFIG = REPO / "configs" / "dartspt_s2.yaml"
RUNS = REPO / "runs" / "dartspt_s2"
CELLS = ("normal", "reduce")
SELECTIONS = (("argmax", "tab:gray"), ("PT", "tab:blue"))
WIDTH = 0.38  # of a bar; two per cell
PAPER_NORMAL_SKIP = 12 / 14  # Wang et al. (2021), Fig. 1 / Sec. 3: argmax, normal cell
PAPER_SETTINGS = {"task": "CIFAR-10 (C=16, 8 cells)", "supernet_epochs": 50,
                  "finetune_epochs": 5, "valid_batches": "all"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "dartspt_s2")
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None,
                   help="supernet epochs (default: the config's; paper: 50)")
    p.add_argument("--finetune-epochs", type=int, default=None,
                   help="fine-tune epochs between PT rounds (default: the config's; paper: 5)")
    p.add_argument("--valid-batches", type=int, default=None,
                   help="valid batches per PT measurement (default: the config's)")
    p.add_argument("--runs", default=str(RUNS),
                   help="parent of the run directories (a started run keeps its own settings; "
                        "only the default one is snapshotted to benchmarks/state while its "
                        "runs are in flight)")
    p.add_argument("--combine", nargs="+", default=[], metavar="JSON",
                   help="instead: summarise finished seeds' JSON files (mean +- std of the "
                        "skip counts per cell and selection) into --out")
    return p.parse_args(argv)


def skip_stats(choices: dict[str, str]) -> dict[str, Any]:
    out = {}
    for cell in CELLS:
        ops = [op for edge, op in sorted(choices.items()) if edge.startswith(cell + "/")]
        skips = ops.count("skip_connect")
        out[cell] = {"edges": len(ops), "skip": skips,
                     "skip_fraction": skips / len(ops) if ops else float("nan")}
    return out


def plot(payload: dict[str, Any], path: Path) -> None:
    """One seed: the skip fraction per cell and selection, the counts on the bars."""
    def bars(ax: Any, at: Any, method: str, color: str) -> None:
        d = payload[method]["per_cell"]
        drawn = ax.bar(at, [d[c]["skip_fraction"] for c in CELLS], WIDTH, color=color,
                       alpha=0.8, label=f"{method} (proxy search)")
        for bar, c in zip(drawn, CELLS, strict=True):
            ax.annotate(f"{d[c]['skip']}/{d[c]['edges']}", (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), ha="center", va="bottom", fontsize=8)

    s = payload["settings"]
    skip_figure(path, bars,
                f"S2 = {{skip, sep3x3}} on the {s['task_name']} proxy (seed {payload['seed']})\n"
                f"C={s['C']}, {s['layers']} cells, {s['supernet_epochs']} supernet epochs, "
                f"{s['finetune_epochs']} fine-tune epoch(s) per PT round")


def skip_figure(path: Path, bars: Callable[[Any, Any, str, str], None], title: str) -> None:
    """Per cell, each selection's bars drawn by ``bars(ax, positions, method, color)``, the
    paper's argmax point, the cell labels, the axis, title, legend and grid."""
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    x = np.arange(len(CELLS))
    for k, (method, color) in enumerate(SELECTIONS):
        bars(ax, x + (k - 0.5) * WIDTH, method, color)
    ax.scatter([x[0] - 0.5 * WIDTH], [PAPER_NORMAL_SKIP], marker="D", s=60, color="tab:red",
               zorder=4, label="paper, argmax (12/14, CIFAR-10)")
    ax.set_xticks(x, [f"{c} cell (14 edges)" for c in CELLS])
    ax.set_ylabel("fraction of edges where skip_connect is chosen")
    ax.set_ylim(0, 1.1)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    s, p = payload["settings"], PAPER_SETTINGS
    lines = [
        f"### Skip domination in S2 (DARTS supernet on the {s['task_name']} proxy, seed "
        f"{payload['seed']})",
        "",
        "| selection | normal cell: skip_connect chosen | reduction cell: skip_connect chosen "
        "| paper (normal, CIFAR-10) |",
        "|---|---|---|---|",
    ]
    for method, paper in (("argmax", "12/14 (86%)"), ("PT", "fewer (sep_conv where it helps)")):
        d = payload[method]["per_cell"]
        cells = [f"{d[c]['skip']}/{d[c]['edges']} ({100 * d[c]['skip_fraction']:.0f}%)"
                 for c in CELLS]
        lines.append(f"| {method} (op per edge, before topology) | {cells[0]} | {cells[1]} | "
                     f"{paper} |")
    lines += [
        "",
        f"Final genotypes: argmax `{payload['argmax']['genotype']}`; "
        f"PT `{payload['PT']['genotype']}`.",
        "",
        "| setting | here | paper |",
        "|---|---|---|",
        f"| search task | {s['task']} | {p['task']} |",
        f"| supernet epochs | {s['supernet_epochs']} (scaled down) | {p['supernet_epochs']} |",
        f"| fine-tune epochs between PT rounds | {s['finetune_epochs']} (scaled down) | "
        f"{p['finetune_epochs']} |",
        f"| valid data per PT measurement | {s['valid_batches']} batches of {s['batch_size']} "
        f"(scaled down) | whole valid split |",
        "",
        f"Wall time {payload['wall_seconds'] / 60:.1f} min (supernet "
        f"{payload['supernet_seconds'] / 60:.1f} min, PT {payload['PT']['seconds'] / 60:.1f} "
        f"min), {payload['cpu_seconds'] / 60:.1f} CPU min (shared machine).",
    ]
    return "\n".join(lines)


def run_base(args: argparse.Namespace) -> Path:
    """The parent of this config's and seed's two run directories."""
    schedule = "" if args.epochs is None else f"-e{args.epochs}"  # its own runs, not resumed
    return Path(args.runs) / f"{Path(args.config).stem}{schedule}-s{args.seed}"


def run_searches(args: argparse.Namespace, base: Path, state: str | None) -> tuple[Path, Path]:
    """The argmax search (it trains the supernet) and PT on that supernet (``supernet_from``),
    each through ``nasforge search`` in its own run directory, started or continued. With a
    ``state`` name, both runs are snapshotted there (``carry.py``) after each: on CIFAR-10
    they take longer than a session, and a fresh checkout continues from the snapshot."""
    sets = [f"seed={args.seed}"]
    for key, value in (("strategy.epochs", args.epochs),
                       ("selection.finetune_epochs", args.finetune_epochs),
                       ("selection.valid_batches", args.valid_batches)):
        if value is not None:
            sets.append(f"{key}={value}")
    argmax_sets = [s for s in sets if not s.startswith("selection.")]
    argmax, pt = base / "argmax", base / "pt"
    if state:
        restore_missing(state, base)  # a fresh checkout continues there
    for run_dir, run_sets in ((argmax, [*argmax_sets, "selection={name: argmax}"]),
                              (pt, [*sets, f"supernet_from={argmax}"])):
        try:
            cli_runs.search(Path(args.config), run_dir, run_sets,
                            run_dir.with_suffix(".clock.json"))
        finally:  # finished or stopped: the next session continues from the snapshot
            if state:
                snapshot(base, state)
    return argmax, pt


def read_scores(run_dir: Path) -> list[dict[str, Any]]:
    """A run's ``selection_scores.csv``, numbers as floats."""
    with (run_dir / "selection_scores.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("strength", "valid_acc"):
            if row.get(key):
                row[key] = float(row[key])
    return rows


def run_summary(run_dir: Path) -> dict[str, Any]:
    best = json.loads((run_dir / "best.json").read_text())
    return {"genotype": best["arch_str"], "scores": read_scores(run_dir),
            "clock": dataclasses.asdict(cli_runs.Clock.read(run_dir.with_suffix(".clock.json")))}


def settings_of(config: Any) -> dict[str, Any]:
    task = config.task.to_dict() if config.task else {}
    space = config.space.options
    return {
        "task": f"{task.get('name')} ({task.get('train_size')} samples, "
                f"{task.get('valid_fraction')} valid"
                + (f", {task['size']}x{task['size']} px" if task.get("size") else "")
                + f"), darts s2 C={space.get('C')} layers={space.get('layers')}",
        "task_name": task.get("name"),
        "C": space.get("C"), "layers": space.get("layers"),
        "supernet_epochs": config.strategy.options.get("epochs"),
        "order": config.strategy.options.get("order", 1),
        "finetune_epochs": config.selection.options.get("finetune_epochs")
        if config.selection else None,
        "valid_batches": config.selection.options.get("valid_batches")
        if config.selection else None,
        "batch_size": task.get("batch_size"),
    }


def combine(paths: Sequence[str]) -> dict[str, Any]:
    """Per selection and cell, the skip counts of every seed and their mean +- std."""
    seeds = [json.loads(Path(path).read_text()) for path in paths]
    out: dict[str, Any] = {"sources": [display_path(p) for p in paths],
                           "seeds": [s["seed"] for s in seeds],
                           "settings": seeds[0]["settings"],
                           "paper_argmax_normal_skip_fraction": PAPER_NORMAL_SKIP}
    for method, _ in SELECTIONS:
        out[method] = {cell: {"edges": seeds[0][method]["per_cell"][cell]["edges"],
                              "skip_per_seed": [s[method]["per_cell"][cell]["skip"]
                                                for s in seeds],
                              "skip": mean_std(s[method]["per_cell"][cell]["skip"]
                                               for s in seeds)}
                       for cell in CELLS}
    return out


def plot_combined(payload: dict[str, Any], path: Path) -> None:
    """Mean skip fraction per cell and selection, every seed as a dot."""
    def bars(ax: Any, at: Any, method: str, color: str) -> None:
        d = payload[method]
        ax.bar(at, [d[c]["skip"][0] / d[c]["edges"] for c in CELLS], WIDTH, color=color,
               alpha=0.7, label=f"{method}, mean of {len(payload['seeds'])} seeds")
        for pos, cell in zip(at, CELLS, strict=True):
            per = [n / d[cell]["edges"] for n in d[cell]["skip_per_seed"]]
            ax.scatter([pos] * len(per), per, color="black", s=12, zorder=3)

    s = payload["settings"]
    skip_figure(path, bars, f"S2 on the {s['task_name']} proxy, seeds {payload['seeds']}: "
                f"C={s['C']}, {s['layers']} cells, {s['supernet_epochs']} supernet epochs")


def combined_markdown(payload: dict[str, Any]) -> str:
    lines = ["| selection | normal: skip_connect chosen (mean +- std; per seed) | reduction: "
             "skip_connect chosen | paper (normal) |", "|---|---|---|---|"]
    for method, paper in (("argmax", "12/14"), ("PT", "fewer")):
        cells = [f"{payload[method][c]['skip'][0]:.1f} +- {payload[method][c]['skip'][1]:.1f} "
                 f"of {payload[method][c]['edges']} "
                 f"({' / '.join(map(str, payload[method][c]['skip_per_seed']))})"
                 for c in CELLS]
        lines.append(f"| {method} | {cells[0]} | {cells[1]} | {paper} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    if args.combine:
        return finish(args.out, combine(args.combine), plot_combined, combined_markdown)
    base = run_base(args)
    carried = Path(args.runs).resolve() == RUNS.resolve()
    state = f"dartspt_s2/{base.name}" if carried else None
    argmax_dir, pt_dir = run_searches(args, base, state)
    finish(args.out, results(args, argmax_dir, pt_dir), plot, markdown)
    if state:
        release(state)  # the results are written: the finished runs leave the repository
    return 0


def results(args: argparse.Namespace, argmax_dir: Path, pt_dir: Path) -> dict[str, Any]:
    """The two finished runs' op choices per edge, skip counts per cell, genotypes, clocks."""
    config = load_config(pt_dir / "config.yaml")  # the settings the runs actually used
    argmax, pt = run_summary(argmax_dir), run_summary(pt_dir)
    argmax_ops = {row["edge"]: row["op"] for row in argmax["scores"]}
    pt_ops = pt_op_choices(pt["scores"])
    with TrialStore(argmax_dir / "trials.sqlite") as store:
        supernet_seconds = float(store.get_meta("supernet_seconds"))
    return {
        "config": config.to_dict(),
        "config_file": display_path(args.config),
        "runs": [display_path(argmax_dir), display_path(pt_dir)],
        "seed": args.seed,
        "threads": os.environ.get("OMP_NUM_THREADS", "all cores"),
        "settings": settings_of(config),
        "paper_settings": PAPER_SETTINGS,
        "paper_argmax_normal_skip_fraction": PAPER_NORMAL_SKIP,
        "wall_seconds": argmax["clock"]["seconds"] + pt["clock"]["seconds"],
        "cpu_seconds": argmax["clock"]["cpu_seconds"] + pt["clock"]["cpu_seconds"],
        "supernet_seconds": supernet_seconds,
        "argmax": {"per_cell": skip_stats(argmax_ops), "edge_ops": argmax_ops,
                   "genotype": argmax["genotype"], "strengths": argmax["scores"]},
        "PT": {"per_cell": skip_stats(pt_ops), "edge_ops": pt_ops, "genotype": pt["genotype"],
               "seconds": pt["clock"]["seconds"], "scores": pt["scores"]},
        "supernet_history": json.loads((argmax_dir / "history.json").read_text()),
    }


if __name__ == "__main__":
    sys.exit(main())
