"""SPOS speed on the NB201 supernet of benchmarks/supernet_speed.py (C=16, N=5, 32x32 inputs,
batch 64, CPU): training throughput of single-path mode vs the weighted (DARTS) mode on the
same supernet, measured interleaved in one run; and candidates evaluated per second by the
inherited-weight evaluator (batch-norm recalibration included) as SPOS's evolution uses it.
Writes benchmarks/results/spos_speed.json.      .venv/bin/python benchmarks/spos_speed.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from common import RESULTS, write_json
from torch import nn

from nasforge.data.base import tensor_task
from nasforge.evaluators.supernet import SupernetEvaluator
from nasforge.spaces.nb201 import NB201Space
from nasforge.supernet import build_supernet
from nasforge.task import Shape
from nasforge.training import seeded

BATCH = 64


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--recalibration-batches", type=int, default=10)
    parser.add_argument("--valid-batches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "spos_speed.json"))
    return parser.parse_args(argv)


def step_fn(net: nn.Module, set_mode: Callable[[], None]) -> Callable[[], None]:
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(BATCH, 3, 32, 32)
    y = torch.randint(0, 10, (BATCH,))

    def step() -> None:
        set_mode()
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    return step


def interleaved(fns: dict[str, Callable[[], None]], reps: int) -> dict[str, list[float]]:
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    space = NB201Space(C=16, N=5)
    shape = Shape((3, 32, 32), 10)
    with seeded(0):
        net = build_supernet(space, shape)
    rng = np.random.default_rng(0)
    uniform = net.arch_state.valid / net.arch_state.valid.sum(1, keepdim=True)
    times = interleaved({
        "weighted": step_fn(net, lambda: net.set_weights(uniform)),
        "single_path": step_fn(net, lambda: net.set_path(space.sample(rng))),
    }, args.reps)
    train = {name: {"median_s": float(np.median(t)), "samples_per_s": BATCH / float(np.median(t))}
             for name, t in times.items()}
    ratio = train["single_path"]["samples_per_s"] / train["weighted"]["samples_per_s"]
    gen = np.random.default_rng(1)
    n = BATCH * (args.recalibration_batches + args.valid_batches)
    x = gen.normal(size=(2 * n, 3, 32, 32)).astype(np.float32)
    y = gen.integers(0, 10, size=2 * n)
    task = tensor_task("speed", x[:n], y[:n], x[n:], y[n:], num_classes=10, seed=0,
                       batch_size=BATCH, valid_fraction=0.5)
    evaluator = SupernetEvaluator(net, space, task, torch.device("cpu"),
                                  args.recalibration_batches, args.valid_batches)
    candidates = [space.sample(rng) for _ in range(args.candidates + 1)]
    evaluator.evaluate(candidates[0])  # loads and caches the batches
    start = time.perf_counter()
    for arch in candidates[1:]:
        evaluator.evaluate(arch)
    per_second = args.candidates / (time.perf_counter() - start)
    payload: dict[str, Any] = {
        "setup": {"C": 16, "N": 5, "input": [3, 32, 32], "batch": BATCH,
                  "threads": args.threads, "reps": args.reps},
        "train_step": train, "single_path_vs_weighted": ratio,
        "evaluation": {"recalibration_batches": args.recalibration_batches,
                       "valid_batches": args.valid_batches,
                       "candidates_per_second": per_second},
    }
    write_json(args.out, payload)
    print(f"single path {train['single_path']['samples_per_s']:.1f} samples/s vs weighted "
          f"{train['weighted']['samples_per_s']:.1f} ({ratio:.2f}x); {per_second:.2f} "
          f"candidates/s ({args.recalibration_batches} recalibration + {args.valid_batches} "
          f"valid batches of {BATCH})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
