"""Evaluation functions for executor tests, at module level so worker processes (spawned or
Ray) can import them."""

from __future__ import annotations

import os
import time
from pathlib import Path


def conv_share(arch) -> float:
    """Share of conv3x3 edges; slow enough for trials to overlap."""
    time.sleep(0.05)
    return 100.0 * sum(op == "nor_conv_3x3" for op in arch.values()) / len(arch)


def dies_once(arch) -> float:
    """Kills its worker the first time it runs (a crashed or OOM-killed worker)."""
    marker = Path(os.environ["NASFORGE_TEST_MARKER"])
    if not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return 50.0


def sleeps(arch) -> float:
    """A trial far longer than any test may wait for."""
    time.sleep(120)
    return 0.0


def wait_policy_and_threads(arch) -> dict[str, float]:
    """What the worker process was started with: passive waiting (1/0), torch threads."""
    import torch

    return {"valid_acc": 0.0, "passive": float(os.environ.get("OMP_WAIT_POLICY") == "PASSIVE"),
            "threads": float(torch.get_num_threads())}
