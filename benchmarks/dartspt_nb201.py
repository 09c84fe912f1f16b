"""DARTS vs DARTS-PT vs fixed-alpha PT on the NB201 cell space, on the proxy task.

For each seed (default 0, 1, 2) this script runs the three NB201 methods of DARTS-PT
(Wang et al., ICLR 2021, Table 1) on the proxy task (``configs/proxy_task.yaml``: MNIST-1D,
NB201 C=8, N=1):

- **DARTS** (first order) + argmax: DARTS's own selection;
- **DARTS + PT**: perturbation-based selection on the SAME trained DARTS supernet (the argmax
  selection runs first since it only reads alpha; PT then discretizes and fine-tunes it);
- **fixed alpha + PT**: a supernet trained with uniform, never-updated alpha, then PT.

Each selected cell is looked up in the NB201 table (CIFAR-10, 200 epochs, test accuracy) and
compared with the paper's CIFAR-10 numbers (DARTS 54.30, DARTS+PT 88.11, fixed-alpha PT 93.80).
The share of ``skip_connect`` and ``none`` among the 6 chosen ops is reported too (DARTS's
failure mode is a cell full of skips / parameter-free ops).

The paper trains the supernet 100 epochs on NB201 and fine-tunes 5 epochs between decisions on
CIFAR-10; on 2 shared CPU cores the defaults here are scaled down (see ``--epochs``,
``--finetune-epochs``, ``--valid-batches``); the settings and wall time are recorded in the
JSON. Writes ``benchmarks/results/dartspt_nb201.json`` and a bar chart ``dartspt_nb201.png``.

    NASFORGE_NB201=../shared/data/nb201/nb201_compact.csv.gz \\
        .venv/bin/python benchmarks/dartspt_nb201.py                # ~25 min on 2 shared cores
    .venv/bin/python benchmarks/dartspt_nb201.py --seeds 0 --epochs 2 --finetune-epochs 0
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import (
    REPO,
    RESULTS,
    display_path,
    mean_std,
    nb201_table_path,
    new_figure,
    save_figure,
    setup_logging,
    stopwatch,
    write_json,
)

from nasforge import oneshot
from nasforge.architecture import Architecture
from nasforge.components import Components, build_components
from nasforge.config import load_config
from nasforge.selection.argmax import ArgmaxSelection
from nasforge.selection.base import SelectionContext
from nasforge.selection.perturbation import PerturbationSelection
from nasforge.supernet.base import Supernet

log = logging.getLogger("benchmarks.dartspt_nb201")

DARTS_CONFIG = REPO / "configs" / "dartspt_nb201.yaml"
FIXED_CONFIG = REPO / "configs" / "fixedpt_nb201.yaml"
METHODS = ("DARTS", "DARTS+PT", "fixed-alpha+PT")
# Wang et al. (ICLR 2021), Table 1 / Sec. 5: NB201 CIFAR-10 test accuracy of the selected cell.
PAPER = {"DARTS": 54.30, "DARTS+PT": 88.11, "fixed-alpha+PT": 93.80}
PAPER_SETTINGS = {"supernet_epochs": 100, "finetune_epochs": 5, "valid_batches": "all",
                  "task": "CIFAR-10 (C=16, N=5)"}
OPTIMUM = 94.37


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10,
                   help="supernet epochs (paper: 100 on NB201; 50 in DARTS)")
    p.add_argument("--finetune-epochs", type=int, default=1,
                   help="fine-tuning epochs between PT decisions (paper: 5)")
    p.add_argument("--valid-batches", type=int, default=8,
                   help="valid batches per PT measurement (paper: the whole valid split)")
    p.add_argument("--darts-config", default=str(DARTS_CONFIG))
    p.add_argument("--fixed-config", default=str(FIXED_CONFIG))
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--table", default=None, help="nb201_compact.csv.gz (default: shared)")
    p.add_argument("--out", default=str(RESULTS / "dartspt_nb201"),
                   help="output path without suffix (.json and .png are written)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


# --- shared with benchmarks/dartspt_s2.py -------------------------------------------------------

def train_supernet(comp: Components, seed: int, desc: str) -> tuple[Supernet, list[dict[str, Any]]]:
    """The supernet ``nasforge search`` trains with ``seed`` (the run's own loop, same weights);
    return it and the per-epoch metrics."""
    log.info("%s: %d epochs", desc, comp.strategy.epochs)  # type: ignore[union-attr]
    return oneshot.train_supernet(comp.strategy, comp.task, device=comp.device,  # type: ignore[arg-type]
                                  seed=seed)


def select(comp: Components, supernet: Supernet, selection: Any, seed: int
           ) -> tuple[Architecture, list[dict[str, Any]], float]:
    """Run ``selection`` on the trained supernet with the rng ``run_oneshot`` would use;
    return the validated architecture, the selection's scores and the seconds it took."""
    ctx = SelectionContext(supernet, comp.strategy, comp.task, comp.device,  # type: ignore[arg-type]
                           np.random.default_rng(seed))
    with stopwatch() as elapsed:
        arch = selection.select(ctx)
    return comp.space.validate(arch), list(ctx.scores), elapsed[0]


def pt_op_choices(scores: Sequence[dict[str, Any]]) -> dict[str, str]:
    """PT's op decision per edge from its scores: the op whose removal gives the lowest valid
    accuracy (ties to the earlier op, as PerturbationSelection does)."""
    per_edge: dict[str, dict[str, float]] = {}
    for row in scores:
        if row.get("step") == "op":
            per_edge.setdefault(row["edge"], {})[row["removed"]] = row["valid_acc"]
    return {edge: min(accs, key=lambda op: accs[op]) for edge, accs in per_edge.items()}


# ------------------------------------------------------------------------------------------------

def cell_row(comp: Components, arch: Architecture, seconds: float) -> dict[str, Any]:
    ops = [str(v) for v in arch.values()]
    result = comp.evaluator.evaluate(arch)  # type: ignore[union-attr]
    return {
        "arch": comp.space.format(arch),  # type: ignore[attr-defined]
        "test_acc": result.metrics.get("test_acc"),
        "skip_fraction": ops.count("skip_connect") / len(ops),
        "none_fraction": ops.count("none") / len(ops),
        "selection_seconds": seconds,
    }


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    common = [f"seed={seed}", f"strategy.epochs={args.epochs}",
              f"selection.finetune_epochs={args.finetune_epochs}",
              f"selection.valid_batches={args.valid_batches}"]
    out: dict[str, Any] = {"seed": seed}

    # DARTS supernet, shared by argmax (reads alpha only) and PT (modifies the supernet).
    comp = build_components(load_config(args.darts_config, common))
    with stopwatch() as t_train:
        supernet, history = train_supernet(comp, seed, f"seed {seed} DARTS supernet")
    arch, scores, sec = select(comp, supernet, ArgmaxSelection(), seed)
    out["DARTS"] = {**cell_row(comp, arch, sec), "alpha_strengths": scores}
    log.info("seed %d DARTS argmax: %s -> %.2f", seed, out["DARTS"]["arch"],
             out["DARTS"]["test_acc"])
    pt = comp.selection
    assert isinstance(pt, PerturbationSelection)
    arch, scores, sec = select(comp, supernet, pt, seed)
    out["DARTS+PT"] = {**cell_row(comp, arch, sec), "pt_scores": scores}
    log.info("seed %d DARTS+PT: %s -> %.2f (%.0f s)", seed, out["DARTS+PT"]["arch"],
             out["DARTS+PT"]["test_acc"], sec)
    out["darts_supernet"] = {"seconds": t_train[0], "history": history}

    comp = build_components(load_config(args.fixed_config, common))
    with stopwatch() as t_train:
        supernet, history = train_supernet(comp, seed, f"seed {seed} fixed-alpha supernet")
    pt = comp.selection
    assert isinstance(pt, PerturbationSelection)
    arch, scores, sec = select(comp, supernet, pt, seed)
    out["fixed-alpha+PT"] = {**cell_row(comp, arch, sec), "pt_scores": scores}
    log.info("seed %d fixed-alpha+PT: %s -> %.2f (%.0f s)", seed, out["fixed-alpha+PT"]["arch"],
             out["fixed-alpha+PT"]["test_acc"], sec)
    out["fixed_supernet"] = {"seconds": t_train[0], "history": history}
    return out


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for method in METHODS:
        accs = [r[method]["test_acc"] for r in runs]
        mean, std = mean_std(accs)
        skip = [r[method]["skip_fraction"] for r in runs]
        none = [r[method]["none_fraction"] for r in runs]
        summary[method] = {"test_acc": accs, "mean": mean, "std": std, "paper": PAPER[method],
                           "skip_fraction": float(np.mean(skip)),
                           "none_fraction": float(np.mean(none))}
    return summary


def plot(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    summary, runs = payload["summary"], payload["runs"]
    x = np.arange(len(METHODS))
    ax.bar(x, [summary[m]["mean"] for m in METHODS], yerr=[summary[m]["std"] for m in METHODS],
           color=["tab:gray", "tab:blue", "tab:green"], alpha=0.7, capsize=4,
           label="proxy search, mean +- std")
    for i, m in enumerate(METHODS):
        ax.scatter([i] * len(runs), [r[m]["test_acc"] for r in runs], color="black", s=14,
                   zorder=3, label="single seeds" if i == 0 else None)
    ax.scatter(x, [PAPER[m] for m in METHODS], marker="D", s=60, color="tab:red", zorder=4,
               label="paper (searched on CIFAR-10)")
    ax.axhline(OPTIMUM, color="tab:red", lw=0.8, ls=":", label=f"NB201 optimum {OPTIMUM}")
    ax.set_xticks(x, METHODS)
    ax.set_ylabel("NB201 CIFAR-10 test accuracy of the selected cell (%)")
    s = payload["settings"]
    ax.set_title(f"DARTS-PT on the MNIST-1D proxy, seeds {payload['seeds']}\n"
                 f"{s['supernet_epochs']} supernet epochs, {s['finetune_epochs']} fine-tune "
                 f"epoch(s) per decision, {s['valid_batches']} valid batches", fontsize=9)
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    s, summary = payload["settings"], payload["summary"]
    lines = [
        "### DARTS-PT on NB201 (MNIST-1D proxy search, cell looked up in the NB201 table)",
        "",
        "| method | NB201 C10 test, mean +- std (seeds " + ", ".join(map(str, payload["seeds"]))
        + ") | per seed | paper (C10 search) | skip_connect share | none share |",
        "|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        d = summary[m]
        per = ", ".join(f"{a:.2f}" for a in d["test_acc"])
        lines.append(f"| {m} | {d['mean']:.2f} +- {d['std']:.2f} | {per} | {d['paper']:.2f} | "
                     f"{100 * d['skip_fraction']:.0f}% | {100 * d['none_fraction']:.0f}% |")
    lines += ["", "| seed | method | selected cell | C10 test |", "|---|---|---|---|"]
    for r in payload["runs"]:
        for m in METHODS:
            lines.append(f"| {r['seed']} | {m} | `{r[m]['arch']}` | {r[m]['test_acc']:.2f} |")
    p = PAPER_SETTINGS
    lines += [
        "",
        "| setting | here | paper |",
        "|---|---|---|",
        f"| search task | {s['task']} | {p['task']} |",
        f"| supernet epochs | {s['supernet_epochs']} (scaled down) | {p['supernet_epochs']} |",
        f"| fine-tune epochs between PT decisions | {s['finetune_epochs']} (scaled down) | "
        f"{p['finetune_epochs']} |",
        f"| valid data per PT measurement | {s['valid_batches']} batches of "
        f"{s['batch_size']} (scaled down) | whole valid split |",
        f"| DARTS order | {s['order']} | 1 (and 2) |",
        "",
        f"Wall time {payload['wall_seconds'] / 60:.1f} min on {payload['threads']} threads "
        f"(shared machine).",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    torch.set_num_threads(args.threads)
    os.environ["NASFORGE_NB201"] = str(nb201_table_path(args.table))
    config = load_config(args.darts_config)
    runs = []
    start = time.perf_counter()
    with stopwatch() as elapsed:
        for seed in args.seeds:
            runs.append(run_seed(args, seed))
            log.info("seed %d done, %.1f min so far", seed, (time.perf_counter() - start) / 60)
    task = config.task.to_dict() if config.task else {}
    settings = {
        "task": f"{task.get('name')} ({task.get('train_size')} samples, "
                f"{task.get('valid_fraction')} valid), nb201 C={config.space.options.get('C')} "
                f"N={config.space.options.get('N')}",
        "supernet_epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs,
        "valid_batches": args.valid_batches,
        "batch_size": task.get("batch_size"),
        "order": config.strategy.options.get("order", 1),
    }
    payload: dict[str, Any] = {
        "darts_config": display_path(args.darts_config),
        "fixed_config": display_path(args.fixed_config),
        "seeds": args.seeds,
        "threads": args.threads,
        "settings": settings,
        "paper_settings": PAPER_SETTINGS,
        "summary": summarise(runs),
        "wall_seconds": elapsed[0],
        "runs": runs,
    }
    out = Path(args.out)
    write_json(out.with_suffix(".json"), payload)
    plot(payload, out.with_suffix(".png"))
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
