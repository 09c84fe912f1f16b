"""Why DARTS-PT's first CIFAR-10 run measured chance: batch norm in train mode on batches of
one class.

DARTS-PT (Wang et al., ICLR 2021, Algorithm 1) scores an op by the supernet's validation
accuracy with the op removed, batch norm in train mode (the authors' code), so the mix of each
batch matters. The shared CIFAR-10 archive stores its images class by class and the task kept
that order, so an unshuffled loader gave batches of a single class: every PT measurement of the
first run (``darts_pt``, seed 0) read 11-13%. The task now stores every split in a seeded
mixed order and PT draws its valid batches at random (a fixed order for all measurements).

This script reads a trained DARTS run (``--run``, its ``trained_supernet.pt``: weights and
alpha), and measures the same supernet's validation accuracy on ``--batches`` batches:

- train-mode batch norm, batches in class order (the split sorted by label: the old order);
- train-mode batch norm, batches in PT's order (what PT measures now);
- eval-mode batch norm (running statistics), same batches.

Writes ``results/pt_batches_cifar10.json``.

    .venv/bin/python benchmarks/pt_batches_cifar10.py --run runs/oneshot_cifar10/darts-s0
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from common import REPO, display_path
from skeleton import finish, parser, require, start
from torch.utils.data import Subset

from nasforge.config import load_config
from nasforge.run.components import build_components
from nasforge.run.supernet_reuse import TRAINED
from nasforge.selection.base import SelectionContext
from nasforge.selection.perturbation import MEASUREMENT_SEED, PerturbationSelection
from nasforge.strategies.darts import DartsSearch
from nasforge.supernet.checkpoint import load_supernet, read_checkpoint


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "pt_batches_cifar10")
    p.add_argument("--run", default=str(REPO / "runs" / "oneshot_cifar10" / "darts-s0"))
    p.add_argument("--batches", type=int, default=40, help="valid batches per measurement")
    return p.parse_args(argv)


Batch = tuple[torch.Tensor, torch.Tensor]


def class_ordered(valid: Subset) -> Subset:  # type: ignore[type-arg]
    """The split's members sorted by label (stable): the order the archive gave."""
    labels = valid.dataset.labels  # type: ignore[attr-defined]
    return Subset(valid.dataset, sorted(valid.indices, key=lambda i: int(labels[i])))


def first(loader: Iterable[Batch], count: int) -> list[Batch]:
    return [batch for _, batch in zip(range(count), loader, strict=False)]


@torch.no_grad()
def accuracy(supernet: torch.nn.Module, batches: list[Batch], train_mode: bool) -> float:
    supernet.train(train_mode)
    correct = sum(int((supernet(x).argmax(1) == y).sum()) for x, y in batches)
    return 100.0 * correct / max(sum(len(y) for _, y in batches), 1)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    run = Path(args.run)
    require(run / TRAINED, "run benchmarks/oneshot_cifar10.py --methods darts first")
    parts = build_components(load_config(run / "config.yaml"))
    task, strategy, cpu = parts.task, parts.strategy, torch.device("cpu")
    assert task is not None and isinstance(strategy, DartsSearch)
    supernet = load_supernet(run / TRAINED, parts.space, task.shape, cpu)
    strategy.setup(supernet, task, cpu)
    strategy.load_state_dict(read_checkpoint(run / TRAINED)["strategy"])  # alpha -> supernet
    sorted_valid = dataclasses.replace(task, valid=class_ordered(task.valid))  # type: ignore[arg-type]
    old = first(sorted_valid.loader("valid"), args.batches)
    mixed = first(task.loader("valid", shuffle=True, seed=MEASUREMENT_SEED), args.batches)
    ctx = SelectionContext(supernet, strategy, task, cpu, np.random.default_rng(0))
    results = {
        "train_mode_class_order": accuracy(supernet, old, True),
        "classes_in_class_order_batches": len({int(c) for _, y in old for c in y}),
        "train_mode_pt_order": accuracy(supernet, mixed, True),
        "pt_valid_accuracy": PerturbationSelection(valid_batches=args.batches)
        .valid_accuracy(ctx),
        "eval_mode_pt_order": accuracy(supernet, mixed, False),
    }
    return finish(args.out, {"run": display_path(run), "valid_batches": args.batches,
                             "batch_size": task.batch_size, **results},
                  summary=lambda _: str(results))


if __name__ == "__main__":
    sys.exit(main())
