"""Skip domination in the DARTS space S2: argmax of alpha vs perturbation-based selection.

Wang et al. (ICLR 2021, Sec. 3) show that in S2 = {skip_connect, sep_conv_3x3} DARTS's alpha
picks skip_connect on 12 of the 14 normal-cell edges although sep_conv is the stronger op on
about half of them. This script trains one DARTS supernet (first order) on S2 on a small proxy
(``configs/dartspt_s2.yaml``: MNIST-1D, C=4, 5 cells), then selects twice from it:

- **argmax**: the op with the largest softmax(alpha) on every edge (read before PT runs);
- **PT**: perturbation-based selection; its op decision per edge (before the topology step)
  is the op whose removal gives the lowest validation accuracy (the selection's ``op`` scores).

It reports, for the 14 normal-cell edges and the 14 reduction-cell edges separately, the
fraction of edges on which each picks skip_connect, and the final genotypes.
Writes ``benchmarks/results/dartspt_s2.json`` and a bar chart ``dartspt_s2.png``.

    .venv/bin/python benchmarks/dartspt_s2.py                  # ~10 min on 2 shared cores
    .venv/bin/python benchmarks/dartspt_s2.py --epochs 1 --finetune-epochs 0   # smoke test
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import (
    REPO,
    RESULTS,
    display_path,
    new_figure,
    save_figure,
    setup_logging,
    stopwatch,
    write_json,
)
from dartspt_nb201 import pt_op_choices, select, train_supernet

from nasforge.components import build_components
from nasforge.config import load_config
from nasforge.selection.argmax import ArgmaxSelection
from nasforge.selection.perturbation import PerturbationSelection

log = logging.getLogger("benchmarks.dartspt_s2")

DEFAULT_CONFIG = REPO / "configs" / "dartspt_s2.yaml"
CELLS = ("normal", "reduce")
PAPER_NORMAL_SKIP = 12 / 14  # Wang et al. (2021), Fig. 1 / Sec. 3: argmax, normal cell
PAPER_SETTINGS = {"task": "CIFAR-10 (C=16, 8 cells)", "supernet_epochs": 50,
                  "finetune_epochs": 5, "valid_batches": "all"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None,
                   help="supernet epochs (default: the config's; paper: 50)")
    p.add_argument("--finetune-epochs", type=int, default=None,
                   help="fine-tune epochs between PT rounds (default: the config's; paper: 5)")
    p.add_argument("--valid-batches", type=int, default=None,
                   help="valid batches per PT measurement (default: the config's)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", default=str(RESULTS / "dartspt_s2"),
                   help="output path without suffix (.json and .png are written)")
    p.add_argument("-v", "--verbose", action="store_true")
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
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    x = np.arange(len(CELLS))
    width = 0.38
    for k, (method, color) in enumerate((("argmax", "tab:gray"), ("PT", "tab:blue"))):
        values = [payload[method]["per_cell"][c]["skip_fraction"] for c in CELLS]
        bars = ax.bar(x + (k - 0.5) * width, values, width, color=color, alpha=0.8,
                      label=f"{method} (proxy search)")
        for bar, c in zip(bars, CELLS, strict=True):
            d = payload[method]["per_cell"][c]
            ax.annotate(f"{d['skip']}/{d['edges']}", (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.scatter([x[0] - 0.5 * width], [PAPER_NORMAL_SKIP], marker="D", s=60, color="tab:red",
               zorder=4, label="paper, argmax (12/14, CIFAR-10)")
    ax.set_xticks(x, [f"{c} cell (14 edges)" for c in CELLS])
    ax.set_ylabel("fraction of edges where skip_connect is chosen")
    ax.set_ylim(0, 1.1)
    s = payload["settings"]
    ax.set_title(f"S2 = {{skip, sep3x3}} on the MNIST-1D proxy (seed {payload['seed']})\n"
                 f"C={s['C']}, {s['layers']} cells, {s['supernet_epochs']} supernet epochs, "
                 f"{s['finetune_epochs']} fine-tune epoch(s) per PT round", fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    s, p = payload["settings"], PAPER_SETTINGS
    lines = [
        "### Skip domination in S2 (DARTS supernet on the MNIST-1D proxy, seed "
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
        f"min) on {payload['threads']} threads (shared machine).",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    torch.set_num_threads(args.threads)
    overrides = [f"seed={args.seed}"]
    if args.epochs is not None:
        overrides.append(f"strategy.epochs={args.epochs}")
    if args.finetune_epochs is not None:
        overrides.append(f"selection.finetune_epochs={args.finetune_epochs}")
    if args.valid_batches is not None:
        overrides.append(f"selection.valid_batches={args.valid_batches}")
    config = load_config(args.config, overrides)
    comp = build_components(config)
    with stopwatch() as elapsed:
        with stopwatch() as t_train:
            supernet, history = train_supernet(comp, args.seed, "S2 DARTS supernet")
        arch, argmax_scores, _ = select(comp, supernet, ArgmaxSelection(), args.seed)
        argmax_ops = {row["edge"]: row["op"] for row in argmax_scores}
        argmax_geno = comp.space.format(arch)  # type: ignore[attr-defined]
        log.info("argmax: %s", argmax_geno)
        pt = comp.selection
        assert isinstance(pt, PerturbationSelection)
        arch, pt_scores, pt_seconds = select(comp, supernet, pt, args.seed)
        pt_ops = pt_op_choices(pt_scores)
        pt_geno = comp.space.format(arch)  # type: ignore[attr-defined]
        log.info("PT: %s", pt_geno)
    task = config.task.to_dict() if config.task else {}
    space = config.space.options
    settings = {
        "task": f"{task.get('name')} ({task.get('train_size')} samples, "
                f"{task.get('valid_fraction')} valid), darts s2 C={space.get('C')} "
                f"layers={space.get('layers')}",
        "C": space.get("C"), "layers": space.get("layers"),
        "supernet_epochs": config.strategy.options.get("epochs"),
        "order": config.strategy.options.get("order", 1),
        "finetune_epochs": config.selection.options.get("finetune_epochs")
        if config.selection else None,
        "valid_batches": config.selection.options.get("valid_batches")
        if config.selection else None,
        "batch_size": task.get("batch_size"),
    }
    payload: dict[str, Any] = {
        "config": config.to_dict(),
        "config_file": display_path(args.config),
        "seed": args.seed,
        "threads": args.threads,
        "settings": settings,
        "paper_settings": PAPER_SETTINGS,
        "paper_argmax_normal_skip_fraction": PAPER_NORMAL_SKIP,
        "wall_seconds": elapsed[0],
        "supernet_seconds": t_train[0],
        "argmax": {"per_cell": skip_stats(argmax_ops), "edge_ops": argmax_ops,
                   "genotype": argmax_geno, "strengths": argmax_scores},
        "PT": {"per_cell": skip_stats(pt_ops), "edge_ops": pt_ops, "genotype": pt_geno,
               "seconds": pt_seconds, "scores": pt_scores},
        "supernet_history": history,
    }
    out = Path(args.out)
    write_json(out.with_suffix(".json"), payload)
    plot(payload, out.with_suffix(".png"))
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
