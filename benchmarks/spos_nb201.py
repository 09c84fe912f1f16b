"""Single Path One-Shot (Guo et al., ECCV 2020) on the NB201 cell space and the proxy task.

Per seed (default 0, 1, 2), with configs/spos_nb201.yaml (MNIST-1D, NB201 C=8 N=1):
1. train the supernet with uniform single-path sampling;
2. seed 0 only: BN recalibration on vs off: the inherited-weight valid accuracy of the same
   50 random paths with and without recomputing the batch-norm statistics;
3. seed 0 only: ranking quality: Kendall tau between the inherited-weight accuracy
   (recalibrated) of the 20 cells of benchmarks/proxy_check.py and their stand-alone
   accuracy when trained from scratch on the same data (from proxy_check.json);
4. SPOS's evolution (population 50, 20 generations) on the trained supernet; the selected
   cell's NB201 CIFAR-10 test accuracy from the table.
Writes benchmarks/results/spos_nb201.json and .png.

    .venv/bin/python benchmarks/spos_nb201.py          # ~15 min on 2 cores
    .venv/bin/python benchmarks/spos_nb201.py --quick
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, RESULTS, display_path, mean_std, new_figure, save_figure, stopwatch
from scipy.stats import kendalltau
from skeleton import finish, parser, start

import nasforge
from nasforge.config import load_config
from nasforge.evaluators.supernet import SupernetEvaluator
from nasforge.evaluators.table import NB201Table
from nasforge.run.components import build_components
from nasforge.run.oneshot import train_supernet
from nasforge.supernet.base import Supernet

log = logging.getLogger("benchmarks.spos_nb201")
CONFIG = REPO / "configs" / "spos_nb201.yaml"
PROXY = RESULTS / "proxy_check.json"
PAPER = {"imagenet_top1_block_search": 74.3, "imagenet_top1_block_channel_328M": 74.7,
         "note": "the SPOS paper reports no NB201 numbers; compare with random search on the "
                 "NB201 table (93.78) and the other one-shot methods on this proxy"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "spos_nb201", seeds=[0, 1, 2], quick=True)
    p.add_argument("--paths", type=int, default=50)
    args = p.parse_args(argv)
    args.overrides = []
    if args.quick:
        args.seeds, args.paths = [0], 5
        args.overrides = ["strategy.epochs=1", "selection.strategy.generations=2",
                          "selection.strategy.population=10", "selection.strategy.mutation=3",
                          "selection.strategy.crossover=3"]
    return args


def trained_supernet(overrides: list[str], seed: int) -> tuple[Any, Supernet, float]:
    parts = build_components(load_config(CONFIG, [*overrides, f"seed={seed}"]))
    assert parts.task is not None
    with stopwatch() as elapsed:
        net, _ = train_supernet(parts.strategy, parts.task,  # type: ignore[arg-type]
                                device=parts.device, seed=seed)
    return parts, net, elapsed[0]


def inherited(parts: Any, net: Supernet, archs: list[Any], batches: int) -> list[float]:
    evaluator = SupernetEvaluator(net, parts.space, parts.task, parts.device,
                                  recalibration_batches=batches)
    return [evaluator.evaluate(arch).metrics["valid_acc"] for arch in archs]


def bn_and_ranking(parts: Any, net: Supernet, n_paths: int) -> dict[str, Any]:
    rng = np.random.default_rng(1234)
    paths = [parts.space.sample(rng) for _ in range(n_paths)]
    batches = parts.selection.recalibration_batches or 10  # the config's setting
    state = {k: v.clone() for k, v in net.state_dict().items()}
    off = inherited(parts, net, paths, 0)
    net.load_state_dict(state)
    on = inherited(parts, net, paths, batches)
    cells = json.loads(PROXY.read_text())["random_cells"]
    archs = [parts.space.parse(c["arch"]) for c in cells]
    net.load_state_dict(state)
    ranked = inherited(parts, net, archs, batches)
    net.load_state_dict(state)
    ranked_off = inherited(parts, net, archs, 0)
    alone = [c["valid_acc"] for c in cells]
    c10 = [c["c10_test"] for c in cells]
    return {
        "recalibration_batches": batches,
        "bn_on": _stats(on), "bn_off": _stats(off), "paths_on": on, "paths_off": off,
        "ranking": {"inherited_recalibrated": ranked, "inherited_shared_bn": ranked_off,
                    "standalone_valid": alone, "nb201_c10_test": c10,
                    "tau_vs_standalone": kendalltau(ranked, alone)[0],
                    "tau_vs_standalone_no_recalibration": kendalltau(ranked_off, alone)[0],
                    "tau_vs_nb201_c10": kendalltau(ranked, c10)[0],
                    "source": "benchmarks/results/proxy_check.json (commit in its meta)"},
    }


def _stats(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {"mean": float(array.mean()), "std": float(array.std()), "min": float(array.min()),
            "max": float(array.max()), "near_chance": int((array < 20).sum())}


def search(overrides: list[str], seed: int, table: NB201Table) -> dict[str, Any]:
    parts = build_components(load_config(CONFIG, [*overrides, f"seed={seed}"]))
    with tempfile.TemporaryDirectory() as tmp, stopwatch() as elapsed:
        run = Path(tmp) / "run"
        result = nasforge.search(parts.space, None, parts.strategy, selection=parts.selection,
                                 task=parts.task, device=str(parts.device), run_dir=run,
                                 seed=seed)
        history = parts.selection.history  # type: ignore[union-attr]
    assert result is not None and result.best is not None
    arch = parts.space.format(result.best.arch)
    return {"seed": seed, "arch": arch, "c10_test": table.value(arch, "c10_test"),
            "inherited_valid": result.best.result.metrics["valid_acc"],
            "seconds": elapsed[0], "generations": history,
            "candidates_per_second": sum(1 for _ in history) and
            history[-1]["evaluated"] / elapsed[0]}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table = NB201Table(start(args, threads=2, nb201_env=True))
    with stopwatch() as elapsed:
        parts, net, train_seconds = trained_supernet(args.overrides, args.seeds[0])
        analysis = bn_and_ranking(parts, net, args.paths)
        log.info("BN on %.1f, off %.1f; tau %.2f", analysis["bn_on"]["mean"],
                 analysis["bn_off"]["mean"], analysis["ranking"]["tau_vs_standalone"])
        runs = []
        for seed in args.seeds:
            runs.append(search(args.overrides, seed, table))
            log.info("seed %d: %s -> %.2f", seed, runs[-1]["arch"], runs[-1]["c10_test"])
    mean, std = mean_std([r["c10_test"] for r in runs])
    payload = {"config": display_path(CONFIG), "overrides": args.overrides,
               "supernet_seconds": train_seconds, "analysis": analysis, "runs": runs,
               "c10_test_mean": mean, "c10_test_std": std, "paper": PAPER,
               "wall_seconds": elapsed[0]}
    return finish(args.out, payload, plot, markdown)


def plot(payload: dict[str, Any], path: Path) -> None:
    analysis = payload["analysis"]
    fig = new_figure(13, 4)
    left, mid, right = fig.subplots(1, 3)
    left.hist([analysis["paths_off"], analysis["paths_on"]], bins=15,
              label=["shared BN statistics", "recalibrated"])
    left.set_xlabel("inherited-weight valid accuracy (%)")
    left.set_ylabel("paths")
    left.legend(fontsize=8)
    rank = analysis["ranking"]
    mid.scatter(rank["standalone_valid"], rank["inherited_recalibrated"])
    mid.set_xlabel("stand-alone valid accuracy (trained from scratch)")
    mid.set_ylabel("inherited, recalibrated")
    mid.set_title(f"Kendall tau {rank['tau_vs_standalone']:.2f}")
    for run in payload["runs"]:
        gens = run["generations"]
        right.plot([g["generation"] + 1 for g in gens], [g["best"] for g in gens], "o-",
                   label=f"seed {run['seed']}: {run['c10_test']:.2f}")
    right.set_xlabel("generation")
    right.set_ylabel("best inherited valid accuracy")
    right.legend(fontsize=8)
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    a = payload["analysis"]
    r = a["ranking"]
    lines = [f"BN recalibration: on {a['bn_on']['mean']:.1f} +- {a['bn_on']['std']:.1f} "
             f"(near chance {a['bn_on']['near_chance']}), off {a['bn_off']['mean']:.1f} +- "
             f"{a['bn_off']['std']:.1f} (near chance {a['bn_off']['near_chance']})",
             f"Kendall tau vs stand-alone: {r['tau_vs_standalone']:.2f} (recalibrated), "
             f"{r['tau_vs_standalone_no_recalibration']:.2f} (shared BN); vs NB201 C10 "
             f"{r['tau_vs_nb201_c10']:.2f}",
             f"search: C10 test {payload['c10_test_mean']:.2f} +- {payload['c10_test_std']:.2f}: "
             + ", ".join(f"{x['seed']}: {x['arch']} {x['c10_test']:.2f} ({x['seconds']:.0f} s)"
                         for x in payload["runs"]),
             f"wall {payload['wall_seconds'] / 60:.1f} min"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
