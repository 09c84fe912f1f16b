"""SPOS on its own ShuffleNetV2 choice-block space (Guo et al., ECCV 2020, Sec. 4), block and
channel-number search, on the proxy task, under two FLOPs limits.

With configs/spos_shufflenet.yaml (MNIST-1D, 1D convolutions):
1. train the supernet once with uniform single-path sampling (choice and width per block);
2. the FLOPs of 2,000 random paths (exact, analytic); two limits at their 25th and 60th
   percentiles;
3. per limit, SPOS's evolution (population and generations from the config) on the trained
   supernet with ``max_flops``: every candidate's FLOPs (the limit must hold for all), the
   winner's inherited-weight accuracy;
4. each winner retrained from scratch (the train evaluator), plus 5 random paths under each
   limit for reference: stand-alone test accuracy.
Writes benchmarks/results/spos_shufflenet.json and .png.

    .venv/bin/python benchmarks/spos_shufflenet.py          # ~20 min on 2 cores
    .venv/bin/python benchmarks/spos_shufflenet.py --quick
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, display_path, mean_std, new_figure, save_figure, stopwatch
from skeleton import finish, parser, start

from nasforge.architecture import Architecture
from nasforge.config import Budget, load_config
from nasforge.evaluators.supernet import SupernetEvaluator
from nasforge.evaluators.train import TrainEvaluator
from nasforge.registry import STRATEGIES
from nasforge.run.components import build_components
from nasforge.run.loop import run_search
from nasforge.run.oneshot import train_supernet
from nasforge.supernet.base import Supernet

log = logging.getLogger("benchmarks.spos_shufflenet")
CONFIG = REPO / "configs" / "spos_shufflenet.yaml"
PERCENTILES = (25, 60)
PAPER = {"imagenet_top1_block_search_319M": 74.3, "imagenet_top1_block_channel_328M": 74.7,
         "note": "ImageNet, 20 blocks at width 1.0; here a 5-block, width-0.5 proxy on "
                 "MNIST-1D, so only the mechanics (limits hold, search beats random) compare"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "spos_shufflenet", quick=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--random", type=int, default=5, help="random paths per limit")
    p.add_argument("--retrain-epochs", type=int, default=10)
    args = p.parse_args(argv)
    args.overrides = [f"seed={args.seed}"]
    if args.quick:
        args.random, args.retrain_epochs = 1, 1
        args.overrides += ["strategy.epochs=1", "selection.strategy.generations=2",
                           "selection.strategy.population=6", "selection.strategy.mutation=2",
                           "selection.strategy.crossover=2", "selection.strategy.top_k=2"]
    return args


def trained_supernet(overrides: list[str], seed: int) -> tuple[Any, Supernet, float]:
    parts = build_components(load_config(CONFIG, overrides))
    assert parts.task is not None
    with stopwatch() as elapsed:
        net, history = train_supernet(parts.strategy, parts.task,  # type: ignore[arg-type]
                                      device=parts.device, seed=seed)
    for metrics in history:
        log.info("supernet epoch %d: %s", metrics["epoch"],
                 {k: round(v, 3) for k, v in metrics.items() if k != "epoch"})
    return parts, net, elapsed[0]


def constrained_search(parts: Any, net: Supernet, limit: float, seed: int) -> dict[str, Any]:
    """SPOS's evolution under ``max_flops: limit``, candidates scored in the supernet."""
    options = dict(parts.selection.strategy.options)
    options["constraints"] = {"max_flops": limit}
    strategy = STRATEGIES.build("spos_evolution", space=parts.space, seed=seed,
                                task=parts.task, **options)
    evaluator = SupernetEvaluator(net, parts.space, parts.task, parts.device,
                                  parts.selection.recalibration_batches,
                                  parts.selection.valid_batches, seed)
    budget = Budget(trials=strategy.population * strategy.generations)
    with stopwatch() as elapsed:
        result = run_search(parts.space, evaluator, strategy, budget=budget)
    assert result.best is not None
    trials = [t for t in result.trials if t.result.ok]
    return {"limit": limit, "best": result.best.arch.to_dict(),
            "best_flops": result.best.result.flops,
            "best_inherited": result.best.result.metrics["valid_acc"],
            "flops": [t.result.flops for t in trials],
            "inherited": [t.result.metrics["valid_acc"] for t in trials],
            "max_candidate_flops": max(t.result.flops or 0 for t in trials),
            "rejected": strategy.rejected, "seconds": elapsed[0],
            "candidates_per_second": len(trials) / elapsed[0],
            "generations": list(strategy.history)}


def random_under(parts: Any, limit: float, n: int, rng: np.random.Generator
                 ) -> list[Architecture]:
    out: list[Architecture] = []
    while len(out) < n:
        arch = parts.space.sample(rng)
        if parts.space.cost(arch, parts.task.shape).flops <= limit:
            out.append(arch)
    return out


def standalone(parts: Any, arch: Architecture, epochs: int, seed: int) -> dict[str, float]:
    evaluator = TrainEvaluator(parts.space, parts.task, seed=seed, device=parts.device,
                               epochs=epochs, lr=0.1)
    metrics = evaluator.evaluate(arch).metrics
    return {"valid_acc": metrics["valid_acc"], "test_acc": metrics["test_acc"]}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args, threads=2)
    with stopwatch() as elapsed:
        parts, net, train_seconds = trained_supernet(args.overrides, args.seed)
        rng = np.random.default_rng(args.seed + 7)
        shape = parts.task.shape
        probe = [parts.space.cost(parts.space.sample(rng), shape).flops for _ in range(2000)]
        state = {k: v.clone() for k, v in net.state_dict().items()}
        searches = []
        for q in PERCENTILES:
            net.load_state_dict(state)  # each search starts from the trained supernet
            searches.append(under_limit(parts, net, float(np.percentile(probe, q)), q, rng,
                                        args))
    payload = {"config": display_path(CONFIG), "overrides": args.overrides,
               "space": parts.space.options(), "supernet_seconds": train_seconds,
               "retrain_epochs": args.retrain_epochs, "random_flops": probe,
               "searches": searches, "paper": PAPER, "wall_seconds": elapsed[0]}
    return finish(args.out, payload, plot, markdown)


def under_limit(parts: Any, net: Supernet, limit: float, percentile: int,
                rng: np.random.Generator, args: argparse.Namespace) -> dict[str, Any]:
    """The constrained search at one limit; its winner and random paths under the limit
    retrained from scratch."""
    run = constrained_search(parts, net, limit, args.seed)
    run["percentile"] = percentile
    run["winner_standalone"] = standalone(parts, Architecture(run["best"]),
                                          args.retrain_epochs, args.seed)
    run["random_standalone"] = [standalone(parts, arch, args.retrain_epochs, args.seed)
                                for arch in random_under(parts, limit, args.random, rng)]
    log.info("limit %.3g: max candidate %.3g, winner %.1f (inherited %.1f), random %s", limit,
             run["max_candidate_flops"], run["winner_standalone"]["test_acc"],
             run["best_inherited"], [r["test_acc"] for r in run["random_standalone"]])
    return run


def plot(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure(12, 4)
    left, right = fig.subplots(1, 2)
    left.hist(payload["random_flops"], bins=40, color="#cccccc", label="random paths")
    for run, color in zip(payload["searches"], ("tab:blue", "tab:red"), strict=False):
        left.hist(run["flops"], bins=40, alpha=0.6, color=color,
                  label=f"evolution, limit {run['limit']:.3g}")
        left.axvline(run["limit"], color=color, ls="--")
        right.scatter(run["flops"], run["inherited"], s=8, alpha=0.5, color=color,
                      label=f"limit {run['limit']:.3g} (p{run['percentile']})")
        right.axvline(run["limit"], color=color, ls="--")
    left.set_xlabel("FLOPs (multiply-adds)")
    left.set_ylabel("architectures")
    left.legend(fontsize=8)
    right.set_xlabel("FLOPs (multiply-adds)")
    right.set_ylabel("inherited-weight valid accuracy (%)")
    right.legend(fontsize=8)
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    lines = [f"supernet {payload['supernet_seconds']:.0f} s; wall "
             f"{payload['wall_seconds'] / 60:.1f} min"]
    for run in payload["searches"]:
        rand = [r["test_acc"] for r in run["random_standalone"]]
        mean, std = mean_std(rand)
        lines.append(
            f"limit {run['limit']:.4g} (p{run['percentile']}): {len(run['flops'])} scored, "
            f"max {run['max_candidate_flops']:.4g}, rejected {run['rejected']}; winner "
            f"{run['best_flops']:.4g} FLOPs, inherited {run['best_inherited']:.1f}, "
            f"stand-alone test {run['winner_standalone']['test_acc']:.1f}; random under the "
            f"limit {mean:.1f} +- {std:.1f}; {run['candidates_per_second']:.2f} cand/s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
