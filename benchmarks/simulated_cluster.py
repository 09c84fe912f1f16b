"""Simulated large-cluster search on the NB201 table: how much simulated wall-clock time a
search needs to find a good cell with N = 1, 8, 64, 512 parallel workers, with synchronous
rounds vs asynchronous updates.

Every evaluation takes its 12-epoch CIFAR-10 training time from the table (the NB201
protocol's cost) on one virtual worker; events are processed in simulated time order
(nasforge.simulate). "Time to target": the first simulated second at which the architecture
with the best search signal so far has a 200-epoch CIFAR-10 test accuracy >= the target.
Writes benchmarks/results/simulated_cluster.json and .png.

    .venv/bin/python benchmarks/simulated_cluster.py        # ~5 min
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import new_figure, save_figure, stopwatch
from skeleton import finish, parser, start

from nasforge.config import Budget
from nasforge.evaluators.table import NB201Table, TableEvaluator
from nasforge.run.loop import run_search
from nasforge.simulate import SimulatedExecutor
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.controller import RLController
from nasforge.strategies.evolution import RegularizedEvolution
from nasforge.strategies.random import RandomSearch

log = logging.getLogger("benchmarks.simulated_cluster")
STRATEGIES: dict[str, Callable[[NB201Space, int], AskTellStrategy]] = {
    "random": lambda space, seed: RandomSearch(space, seed=seed),
    "evolution": lambda space, seed: RegularizedEvolution(space, seed=seed, population=10,
                                                          sample_size=3),
    "controller": lambda space, seed: RLController(space, seed=seed, lr=0.005, batch=8),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "simulated_cluster")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 8, 64, 512])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--target", type=float, default=93.9, help="C10 test accuracy")
    p.add_argument("--rounds", type=int, default=10,
                   help="evaluations per worker (budget = rounds x workers, >= 400)")
    return p.parse_args(argv)


def time_to_target(trials: Sequence[Any], target: float) -> float:
    """Simulated second at which the best-signal architecture first reaches ``target``."""
    best, reached = -math.inf, math.inf
    for trial in sorted(trials, key=lambda t: t.result.metrics["sim_time"]):
        metrics = trial.result.metrics
        if metrics["valid_acc"] > best:
            best = metrics["valid_acc"]
            if metrics["test_acc"] >= target:
                return float(metrics["sim_time"])
    return reached


def one(table: NB201Table, strategy: str, workers: int, synchronous: bool, seed: int,
        rounds: int, target: float) -> dict[str, float]:
    space = NB201Space()
    evaluator = TableEvaluator(space, table=table)
    budget = Budget(trials=max(400, rounds * workers))
    result = run_search(space, evaluator, STRATEGIES[strategy](space, seed), budget=budget,
                        executor=SimulatedExecutor(workers, synchronous))
    end = max(t.result.metrics["sim_time"] for t in result.trials)
    best = max(result.trials, key=lambda t: (t.result.metrics["valid_acc"], -t.id))
    return {"time_to_target": time_to_target(result.trials, target), "sim_seconds": end,
            "final_test": best.result.metrics["test_acc"], "evaluations": len(result.trials)}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table = NB201Table(start(args))
    results: dict[str, Any] = {}
    with stopwatch() as elapsed:
        for strategy in STRATEGIES:
            for mode, synchronous in (("async", False), ("sync", True)):
                for workers in args.workers:
                    runs = [one(table, strategy, workers, synchronous, seed, args.rounds,
                                args.target) for seed in range(args.seeds)]
                    times = np.array([r["time_to_target"] for r in runs])
                    entry = {"median_time_to_target": float(np.median(times)),
                             "reached": int(np.isfinite(times).sum()), "runs": runs}
                    results.setdefault(strategy, {}).setdefault(mode, {})[str(workers)] = entry
                    log.info("%s %s N=%d: median %.0f s to %.1f (%d/%d reached)", strategy, mode,
                             workers, entry["median_time_to_target"], args.target,
                             entry["reached"], args.seeds)
    payload = {"target": args.target, "seeds": args.seeds, "rounds": args.rounds,
               "workers": args.workers, "results": results, "wall_seconds": elapsed[0]}
    return finish(args.out, payload, plot, markdown)


def plot(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure(6.5, 4.2)
    ax = fig.subplots()
    for strategy, modes in payload["results"].items():
        for mode, style in (("async", "-"), ("sync", "--")):
            xs = [int(n) for n in modes[mode]]
            ys = [modes[mode][str(n)]["median_time_to_target"] / 3600 for n in xs]
            ax.plot(xs, ys, style, marker="o", label=f"{strategy} ({mode})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("parallel workers N")
    ax.set_ylabel(f"simulated hours to C10 test >= {payload['target']}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def markdown(payload: dict[str, Any]) -> str:
    workers = payload["workers"]
    lines = ["| strategy | mode | " + " | ".join(f"N={n}" for n in workers) + " |",
             "|---|---|" + "---|" * len(workers)]
    for strategy, modes in payload["results"].items():
        for mode in ("async", "sync"):
            cells = []
            for n in workers:
                entry = modes[mode][str(n)]
                hours = entry["median_time_to_target"] / 3600
                cells.append(f"{hours:.1f} h ({entry['reached']}/{payload['seeds']})")
            lines.append(f"| {strategy} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
