"""Where a proxy cell's training time goes, and what the evaluator's changes saved.

On the CIFAR-10 proxy (``configs/proxy_cifar10.yaml``), for a few reference cells, in one run
and one torch thread (CPU seconds, so other load on the machine does not distort them):

- the data pipeline alone (loader + crop/flip augmentation over the training split);
- one training epoch (forward, backward, SGD step) and its samples/s;
- scoring the validation split at the training batch size (128) and at the evaluation batch
  size (``EVAL_BATCH``);
- a cell's cost before (validation scored after every epoch at batch 128, as the evaluator did)
  and after (scored in the last epoch only, ``valid_epochs: 1``, at ``EVAL_BATCH``).

Writes ``results/proxy_speed.json``.

    .venv/bin/python benchmarks/proxy_speed.py      # ~3 min
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from common import REPO
from proxy_check import REFERENCE_CELLS
from skeleton import finish, parser, start

from nasforge.config import load_config
from nasforge.run.components import build
from nasforge.runtime import Runtime
from nasforge.training import (
    EVAL_BATCH,
    TrainSettings,
    evaluate,
    make_optimizer,
    split_batches,
    train_epoch,
)

CONFIG = REPO / "configs" / "proxy_cifar10.yaml"
CELLS = ("all_conv3x3", "c10_optimum", "all_skip")


def cpu_seconds(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def drain(loader: Any, augment: Any = None) -> None:
    generator = torch.Generator().manual_seed(0)
    for x, _ in loader:
        if augment is not None:
            augment(x, generator)


def measure_cell(space: Any, task: Any, text: str, epochs: int) -> dict[str, float]:
    model = space.build(space.parse(text), task.shape)
    optimizer = make_optimizer(model, TrainSettings())
    cpu = torch.device("cpu")
    train = cpu_seconds(lambda: train_epoch(
        model, split_batches(task, "train", Runtime(cpu), shuffle=True,
                             augment=torch.Generator().manual_seed(0)), optimizer))
    small = cpu_seconds(lambda: evaluate(model, task.loader("valid"), cpu))
    large = cpu_seconds(lambda: evaluate(model, task.loader("valid", batch_size=EVAL_BATCH), cpu))
    test_small = cpu_seconds(lambda: evaluate(model, task.loader("test"), cpu))
    test = cpu_seconds(lambda: evaluate(model, task.loader("test", batch_size=EVAL_BATCH), cpu))
    before = epochs * (train + small) + test_small  # every epoch scored, at batch 128
    after = epochs * train + large + test  # the last epoch scored, at EVAL_BATCH
    return {"train_epoch_s": train, "train_samples_per_s": len(task.train) / train,
            "valid_at_train_batch_s": small, "valid_at_eval_batch_s": large,
            "test_at_train_batch_s": test_small, "test_at_eval_batch_s": test,
            "cell_before_s": before, "cell_after_s": after, "after_over_before": after / before}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__, "proxy_speed").parse_args(argv)
    start(args, threads=1)  # CPU seconds of one thread: other load does not distort them
    config = load_config(CONFIG)
    assert config.task is not None
    task = build("task", config.task, seed=0)
    space = build("space", config.space)
    epochs = int(config.evaluator.options["epochs"])
    data = cpu_seconds(lambda: drain(task.loader("train", shuffle=True), task.augment))
    cells = {name: measure_cell(space, task, REFERENCE_CELLS[name], epochs) for name in CELLS}
    train = float(np.mean([c["train_epoch_s"] for c in cells.values()]))
    payload = {
        "config": "configs/proxy_cifar10.yaml", "threads": 1, "epochs": epochs,
        "train_images": len(task.train), "valid_images": len(task.valid),
        "eval_batch": EVAL_BATCH, "train_batch": task.batch_size,
        "data_pipeline_epoch_s": data, "data_share_of_train_epoch": data / train,
        "cells": cells,
        "mean_after_over_before": float(np.mean([c["after_over_before"]
                                                  for c in cells.values()])),
    }
    return finish(args.out, payload,
                  summary=lambda p: str({k: v for k, v in p.items() if k != "cells"}))


if __name__ == "__main__":
    sys.exit(main())
