"""A latency lookup table for the ShuffleNet space on this machine, and how well it predicts.

1. Time every (block, choice, width) unit alone at its input shape, plus the fixed rest
   (nasforge.spaces.shufflenet.latency), for the space and task of
   configs/spos_shufflenet.yaml; write the table to ``--table`` (JSON ``{"entries": ...}``),
   ready for ``constraints: {max_latency_ms: X, latency_table: <it>}``.
2. Time ``--check`` random architectures end to end (the built network) and compare with the
   table's sum: Kendall tau, Pearson r and the mean ratio measured / predicted.
Both are measured in ``--rounds`` interleaved rounds and the fastest round kept: on a shared
machine a slow spell then hits one round, not a run of consecutive entries.
Writes benchmarks/results/shufflenet_latency.json and .png.

    .venv/bin/python benchmarks/shufflenet_latency.py            # ~1.5 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import REPO, RESULTS, display_path, new_figure, save_figure, stopwatch
from scipy.stats import kendalltau, pearsonr
from skeleton import finish, parser, start

from nasforge.config import load_config
from nasforge.run.components import build_components
from nasforge.spaces.shufflenet.latency import measure_latency_table, time_ms

log = logging.getLogger("benchmarks.shufflenet_latency")
CONFIG = REPO / "configs" / "spos_shufflenet.yaml"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "shufflenet_latency", threads=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--check", type=int, default=30)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--table", default=str(RESULTS / "shufflenet_lut.json"),
                   help="the latency lookup table written (JSON)")
    return p.parse_args(argv)


@torch.inference_mode()
def end_to_end(model: torch.nn.Module, shape: Any, batch: int, repeats: int) -> float:
    x = torch.randn(batch, *shape.input_shape)
    return time_ms(partial(model, x), repeats)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    parts = build_components(load_config(CONFIG, []))
    space, shape = parts.space, parts.task.shape  # type: ignore[union-attr]
    with stopwatch() as elapsed:
        tables = [measure_latency_table(space, shape, batch=args.batch,  # type: ignore[arg-type]
                                        repeats=args.repeats) for _ in range(args.rounds)]
        entries = {key: min(table[key] for table in tables) for key in tables[0]}
        Path(args.table).write_text(json.dumps({"entries": entries, "batch": args.batch,
                                                "threads": args.threads}, indent=1))
        rng = np.random.default_rng(0)
        archs = [space.sample(rng) for _ in range(args.check)]
        predicted = [space.latency(a, entries) for a in archs]  # type: ignore[attr-defined]
        models = [parts.space.build(a, shape).eval() for a in archs]
        rounds = [[end_to_end(model, shape, args.batch, args.repeats) for model in models]
                  for _ in range(args.rounds)]
        measured = [min(times) for times in zip(*rounds, strict=True)]
    ratio = np.array(measured) / np.array(predicted)
    payload = {"config": display_path(CONFIG), "table": display_path(args.table),
               "batch": args.batch, "threads": args.threads, "rounds": args.rounds,
               "entries": len(entries),
               "predicted_ms": predicted, "measured_ms": measured,
               "kendall_tau": float(kendalltau(predicted, measured)[0]),
               "pearson_r": float(pearsonr(predicted, measured)[0]),
               "ratio_mean": float(ratio.mean()), "ratio_std": float(ratio.std()),
               "wall_seconds": elapsed[0]}
    return finish(args.out, payload, plot, report)


def plot(payload: dict[str, Any], path: Path) -> None:
    """Measured end-to-end latency against the table's prediction, one dot an architecture."""
    predicted, measured = payload["predicted_ms"], payload["measured_ms"]
    fig = new_figure(5, 4.5)
    ax = fig.add_subplot()
    ax.scatter(predicted, measured)
    top = max(max(predicted), max(measured)) * 1.05
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=0.8)
    ax.set_xlabel("lookup table: sum of block entries (ms)")
    ax.set_ylabel("measured end to end (ms)")
    ax.set_title(f"tau {payload['kendall_tau']:.2f}, r {payload['pearson_r']:.2f}")
    save_figure(fig, path)


def report(payload: dict[str, Any]) -> str:
    return (f"{payload['entries']} entries; tau {payload['kendall_tau']:.2f}, r "
            f"{payload['pearson_r']:.2f}, measured/predicted {payload['ratio_mean']:.2f} +- "
            f"{payload['ratio_std']:.2f}; {payload['wall_seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
