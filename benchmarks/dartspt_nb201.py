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
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, display_path, mean_std, new_figure, save_figure, stopwatch
from skeleton import finish, parser, start

from nasforge.architecture import Architecture
from nasforge.config import load_config
from nasforge.run import oneshot
from nasforge.run.components import Components, build_components
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
    p = parser(__doc__, "dartspt_nb201", seeds=[0, 1, 2], table=True, threads=2)
    p.add_argument("--epochs", type=int, default=10,
                   help="supernet epochs (paper: 100 on NB201; 50 in DARTS)")
    p.add_argument("--finetune-epochs", type=int, default=1,
                   help="fine-tuning epochs between PT decisions (paper: 5)")
    p.add_argument("--valid-batches", type=int, default=8,
                   help="valid batches per PT measurement (paper: the whole valid split)")
    p.add_argument("--darts-config", default=str(DARTS_CONFIG))
    p.add_argument("--fixed-config", default=str(FIXED_CONFIG))
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
    sets = [f"seed={seed}", f"strategy.epochs={args.epochs}",
            f"selection.finetune_epochs={args.finetune_epochs}",
            f"selection.valid_batches={args.valid_batches}"]
    out: dict[str, Any] = {"seed": seed}
    # DARTS supernet, shared by argmax (reads alpha only) and PT (modifies the supernet).
    comp, supernet, darts_info = trained(args.darts_config, sets, seed, "DARTS")
    arch, scores, sec = select(comp, supernet, ArgmaxSelection(), seed)
    out["DARTS"] = {**cell_row(comp, arch, sec), "alpha_strengths": scores}
    log.info("seed %d DARTS argmax: %s -> %.2f", seed, out["DARTS"]["arch"],
             out["DARTS"]["test_acc"])
    out["DARTS+PT"] = pt_row(comp, supernet, seed, "DARTS+PT")
    out["darts_supernet"] = darts_info
    comp, supernet, out["fixed_supernet"] = trained(args.fixed_config, sets, seed,
                                                    "fixed-alpha")
    out["fixed-alpha+PT"] = pt_row(comp, supernet, seed, "fixed-alpha+PT")
    return out


def trained(config: str, sets: list[str], seed: int, name: str
            ) -> tuple[Components, Supernet, dict[str, Any]]:
    """The config's components and supernet trained with ``seed``; its seconds and history."""
    comp = build_components(load_config(config, sets))
    with stopwatch() as elapsed:
        supernet, history = train_supernet(comp, seed, f"seed {seed} {name} supernet")
    return comp, supernet, {"seconds": elapsed[0], "history": history}


def pt_row(comp: Components, supernet: Supernet, seed: int, method: str) -> dict[str, Any]:
    """The cell the config's perturbation selection (PT) picks on the trained supernet."""
    pt = comp.selection
    assert isinstance(pt, PerturbationSelection)
    arch, scores, sec = select(comp, supernet, pt, seed)
    row = {**cell_row(comp, arch, sec), "pt_scores": scores}
    log.info("seed %d %s: %s -> %.2f (%.0f s)", seed, method, row["arch"], row["test_acc"], sec)
    return row


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
    start(args, nb201_env=True)
    config = load_config(args.darts_config)
    runs = []
    began = time.perf_counter()
    with stopwatch() as elapsed:
        for seed in args.seeds:
            runs.append(run_seed(args, seed))
            log.info("seed %d done, %.1f min so far", seed, (time.perf_counter() - began) / 60)
    payload: dict[str, Any] = {
        "darts_config": display_path(args.darts_config),
        "fixed_config": display_path(args.fixed_config),
        "seeds": args.seeds,
        "threads": args.threads,
        "settings": settings_of(config, args),
        "paper_settings": PAPER_SETTINGS,
        "summary": summarise(runs),
        "wall_seconds": elapsed[0],
        "runs": runs,
    }
    return finish(args.out, payload, plot, markdown)


def settings_of(config: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The proxy task and the scaled-down schedule, for the table beside the paper's."""
    task = config.task.to_dict() if config.task else {}
    return {
        "task": f"{task.get('name')} ({task.get('train_size')} samples, "
                f"{task.get('valid_fraction')} valid), nb201 C={config.space.options.get('C')} "
                f"N={config.space.options.get('N')}",
        "supernet_epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs,
        "valid_batches": args.valid_batches,
        "batch_size": task.get("batch_size"),
        "order": config.strategy.options.get("order", 1),
    }


if __name__ == "__main__":
    sys.exit(main())
