"""The RL controller vs random sampling on the macro CNN space, real training on the proxy task
(configs/rl_macro.yaml: every child trained 3 epochs on MNIST-1D). Both sample the same number
of children; the controller's curriculum grows the depth, random search samples it uniformly.
Writes benchmarks/results/rl_macro.json and .png.     .venv/bin/python benchmarks/rl_macro.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from common import REPO, RESULTS, new_figure, save_figure, setup_logging, stopwatch, write_json

from nasforge.components import build_components
from nasforge.config import load_config
from nasforge.executors import ProcessExecutor
from nasforge.run import run_search

CONFIG = REPO / "configs" / "rl_macro.yaml"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "rl_macro"))
    return parser.parse_args(argv)


def search(strategy: str, trials: int, workers: int) -> dict[str, Any]:
    overrides = [f"budget.trials={trials}"]
    if strategy == "random":
        overrides.append("strategy={name: random}")
    config = load_config(CONFIG, overrides)
    parts = build_components(config)
    with stopwatch() as elapsed:
        result = run_search(parts.space, parts.evaluator, parts.strategy,  # type: ignore[arg-type]
                            budget=config.budget, executor=ProcessExecutor(workers))
    ok = [t for t in result.trials if t.status == "ok"]
    valid = [t.result.metrics["valid_acc"] for t in ok]
    best = max(ok, key=lambda t: t.result.metrics["valid_acc"])
    return {"valid_acc": valid, "seconds": elapsed[0], "failed": len(result.trials) - len(ok),
            "best": {"arch": parts.space.format(best.arch), **best.result.metrics,
                     "params": best.result.params},
            "history": getattr(parts.strategy, "history", [])}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    with stopwatch() as elapsed:
        runs = {name: search(name, args.trials, args.workers) for name in ("controller", "random")}
    payload = {"trials": args.trials, "workers": args.workers, "runs": runs,
               "wall_seconds": elapsed[0]}
    write_json(f"{args.out}.json", payload)
    fig = new_figure(7, 4)
    ax = fig.subplots()
    for name, run in runs.items():
        valid = np.array(run["valid_acc"])
        window = 10
        smooth = np.convolve(valid, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(valid) + 1), smooth, label=f"{name} (moving mean of 10)")
    ax.set_xlabel("children trained")
    ax.set_ylabel("child valid accuracy (%)")
    ax.legend()
    save_figure(fig, f"{args.out}.png")
    for name, run in runs.items():
        valid = run["valid_acc"]
        third = max(1, len(valid) // 3)
        print(f"{name}: first third {np.mean(valid[:third]):.1f}, last third "
              f"{np.mean(valid[-third:]):.1f}, best valid {run['best']['valid_acc']:.1f} test "
              f"{run['best'].get('test_acc', float('nan')):.1f} ({run['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
