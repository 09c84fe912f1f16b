"""Scale-out on this machine: candidate-level parallelism and data-parallel supernet training.

1. The same real-training search (random search, NB201 cells on the proxy task, each
   candidate trained from scratch) with the serial executor and on a local Ray cluster of 2
   workers (and the process executor), one torch thread per trial: throughput ratio and the
   overhead against the ideal 2x.
2. SPOS supernet training on the proxy task in 1 process vs 2 gloo processes
   (``distributed.nproc=2``), same seed, same total batch count per epoch: samples/s and the
   final training loss / inherited valid accuracy (identical convergence expected within
   tolerance: the 2 ranks average gradients over twice the data per step, half the steps).

Writes benchmarks/results/scaleout.json and .png.   .venv/bin/python benchmarks/scaleout.py
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from common import REPO, new_figure, save_figure, stopwatch
from skeleton import finish, parser, start

from nasforge.config import load_config
from nasforge.run.components import build_components
from nasforge.run.executors import Executor, LocalExecutor, ProcessExecutor
from nasforge.run.loop import run_search

log = logging.getLogger("benchmarks.scaleout")
PROXY = REPO / "configs" / "proxy_task.yaml"
SPOS = REPO / "configs" / "spos_nb201.yaml"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "scaleout")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3, help="per candidate")
    p.add_argument("--supernet-epochs", type=int, default=4)
    return p.parse_args(argv)


def search_seconds(executor: Executor, trials: int, epochs: int) -> dict[str, Any]:
    config = load_config(PROXY, [f"budget.trials={trials}", f"evaluator.epochs={epochs}"])
    parts = build_components(config)
    with stopwatch() as elapsed:
        result = run_search(parts.space, parts.evaluator, parts.strategy,  # type: ignore[arg-type]
                            budget=config.budget, executor=executor)
    keys = [t.key for t in result.trials]
    return {"seconds": elapsed[0], "trials": result.n_trials,
            "trials_per_minute": 60 * result.n_trials / elapsed[0], "keys": keys}


def candidate_parallelism(args: argparse.Namespace) -> dict[str, Any]:
    from nasforge.run.ray_executor import RayExecutor

    torch.set_num_threads(1)  # one thread per trial everywhere: the comparison is workers
    serial = search_seconds(LocalExecutor(), args.trials, args.epochs)
    ray = search_seconds(RayExecutor(workers=2, cpus_per_trial=1), args.trials, args.epochs)
    process = search_seconds(ProcessExecutor(workers=2), args.trials, args.epochs)
    same = sorted(serial["keys"]) == sorted(ray["keys"]) == sorted(process["keys"])
    out = {"serial": serial, "ray_2_workers": ray, "process_2_workers": process,
           "same_candidates": same}
    for name in ("ray_2_workers", "process_2_workers"):
        ratio = serial["seconds"] / out[name]["seconds"]
        out[name]["speedup"] = ratio
        out[name]["overhead_vs_ideal_2x"] = 1 - ratio / 2
    return out


def spos_run(nproc: int, epochs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        command = [sys.executable, "-m", "nasforge", "search", str(SPOS), "--out", str(run),
                   "--set", f"strategy.epochs={epochs}", "--set", f"distributed.nproc={nproc}",
                   "--set", "selection.strategy.generations=1",
                   "--set", "selection.strategy.population=10",
                   "--set", "selection.strategy.mutation=0",
                   "--set", "selection.strategy.crossover=0"]
        with stopwatch() as elapsed:
            subprocess.run(command, check=True, capture_output=True, text=True)
        history = json.loads((run / "history.json").read_text())
        best = json.loads((run / "best.json").read_text())
    load = load_config(SPOS)
    samples = epochs * int(load.task.options["train_size"] * (1 - load.task.options[  # type: ignore[union-attr]
        "valid_fraction"]))
    return {"seconds": elapsed[0], "history": history, "samples": samples,
            "samples_per_s": samples / elapsed[0],
            "final_train_loss": history[-1]["train_loss"], "selected": best["arch_str"]}


def data_parallel(args: argparse.Namespace) -> dict[str, Any]:
    one = spos_run(1, args.supernet_epochs)
    two = spos_run(2, args.supernet_epochs)
    return {"1_process": one, "2_processes": two,
            "speedup": one["seconds"] / two["seconds"],
            "train_loss_difference": two["final_train_loss"] - one["final_train_loss"],
            "note": "seconds include process start-up and the (identical, rank-0) evolution"}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args, nb201_env=True)  # the SPOS runs' evaluator reads the table
    with stopwatch() as elapsed:
        candidates = candidate_parallelism(args)
        log.info("candidates: %s", {k: v.get("speedup") for k, v in candidates.items()
                                    if isinstance(v, dict)})
        ddp = data_parallel(args)
        log.info("data parallel: speedup %.2f", ddp["speedup"])
    settings = {k: v for k, v in vars(args).items() if k != "verbose"}
    payload = {"settings": settings, "candidates": candidates, "data_parallel": ddp,
               "wall_seconds": elapsed[0]}
    return finish(args.out, payload, plot, report)


def plot(payload: dict[str, Any], path: Path) -> None:
    """Candidates per minute per executor; the SPOS loss curve in 1 and 2 processes."""
    candidates, ddp = payload["candidates"], payload["data_parallel"]
    fig = new_figure(10, 4)
    left, right = fig.subplots(1, 2)
    names = ["serial", "ray_2_workers", "process_2_workers"]
    left.bar(names, [candidates[n]["trials_per_minute"] for n in names])
    left.set_ylabel("candidates trained per minute")
    for label, run in (("1 process", ddp["1_process"]), ("2 gloo processes", ddp["2_processes"])):
        right.plot([h["epoch"] for h in run["history"]],
                   [h["train_loss"] for h in run["history"]], "o-", label=label)
    right.set_xlabel("supernet epoch")
    right.set_ylabel("SPOS training loss")
    right.legend()
    save_figure(fig, path)


def report(payload: dict[str, Any]) -> str:
    ddp = payload["data_parallel"]
    speedups = {k: (v.get("speedup"), v.get("overhead_vs_ideal_2x"))
                for k, v in payload["candidates"].items() if isinstance(v, dict)}
    return (json.dumps(speedups, indent=1) + f"\nDDP speedup {ddp['speedup']:.2f}, loss diff "
            f"{ddp['train_loss_difference']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
