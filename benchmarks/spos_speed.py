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
from skeleton import finish, parser, start
from stepping import interleaved
from torch import nn

from nasforge.data.base import tensor_task
from nasforge.evaluators.supernet import SupernetEvaluator
from nasforge.spaces.nb201 import NB201Space
from nasforge.supernet import build_supernet
from nasforge.task import Shape
from nasforge.training import seeded

BATCH = 64


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "spos_speed", threads=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--candidates", type=int, default=10)
    p.add_argument("--recalibration-batches", type=int, default=10)
    p.add_argument("--valid-batches", type=int, default=4)
    return p.parse_args(argv)


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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    space = NB201Space(C=16, N=5)
    with seeded(0):
        net = build_supernet(space, Shape((3, 32, 32), 10))
    rng = np.random.default_rng(0)
    train = train_steps(net, space, rng, args.reps)
    payload: dict[str, Any] = {
        "setup": {"C": 16, "N": 5, "input": [3, 32, 32], "batch": BATCH,
                  "threads": args.threads, "reps": args.reps},
        "train_step": train,
        "single_path_vs_weighted": (train["single_path"]["samples_per_s"]
                                    / train["weighted"]["samples_per_s"]),
        "evaluation": {"recalibration_batches": args.recalibration_batches,
                       "valid_batches": args.valid_batches,
                       "candidates_per_second": candidates_per_second(net, space, rng, args)},
    }
    return finish(args.out, payload, summary=report)


def train_steps(net: Any, space: NB201Space, rng: np.random.Generator, reps: int
                ) -> dict[str, dict[str, float]]:
    """Median step time and samples/s of the weighted and the single-path mode, interleaved."""
    uniform = net.arch_state.valid / net.arch_state.valid.sum(1, keepdim=True)
    times = interleaved({
        "weighted": step_fn(net, lambda: net.set_weights(uniform)),
        "single_path": step_fn(net, lambda: net.set_path(space.sample(rng))),
    }, reps)
    return {name: {"median_s": float(np.median(t)), "samples_per_s": BATCH / float(np.median(t))}
            for name, t in times.items()}


def candidates_per_second(net: Any, space: NB201Space, rng: np.random.Generator,
                          args: argparse.Namespace) -> float:
    """Random paths scored by the inherited-weight evaluator (recalibration included), after
    one that loads and caches the batches."""
    gen = np.random.default_rng(1)
    n = BATCH * (args.recalibration_batches + args.valid_batches)
    x = gen.normal(size=(2 * n, 3, 32, 32)).astype(np.float32)
    y = gen.integers(0, 10, size=2 * n)
    task = tensor_task("speed", x[:n], y[:n], x[n:], y[n:], num_classes=10, seed=0,
                       batch_size=BATCH, valid_fraction=0.5)
    evaluator = SupernetEvaluator(net, space, task, torch.device("cpu"),
                                  args.recalibration_batches, args.valid_batches)
    candidates = [space.sample(rng) for _ in range(args.candidates + 1)]
    evaluator.evaluate(candidates[0])
    began = time.perf_counter()
    for arch in candidates[1:]:
        evaluator.evaluate(arch)
    return args.candidates / (time.perf_counter() - began)


def report(payload: dict[str, Any]) -> str:
    train, ev = payload["train_step"], payload["evaluation"]
    return (f"single path {train['single_path']['samples_per_s']:.1f} samples/s vs weighted "
            f"{train['weighted']['samples_per_s']:.1f} ({payload['single_path_vs_weighted']:.2f}x"
            f"); {ev['candidates_per_second']:.2f} candidates/s ({ev['recalibration_batches']} "
            f"recalibration + {ev['valid_batches']} valid batches of {BATCH})")


if __name__ == "__main__":
    sys.exit(main())
