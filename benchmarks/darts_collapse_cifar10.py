"""Does DARTS collapse to skip connections on CIFAR-10, and from which epoch? The argmax cell
of every epoch of the DARTS runs of ``benchmarks/oneshot_cifar10.py``.

DARTS-PT (Wang et al., ICLR 2021, Sec. 3) argues that DARTS's failure is not the supernet but
the selection: as the supernet converges, alpha of ``skip_connect`` grows on every edge, so
the argmax cell fills with skips and lands low on NB201 (54.30 on CIFAR-10, their Table 1).
Every DARTS run stores softmax(alpha) after each epoch (``op_weights.npy``); this script takes
the argmax cell of each epoch of each run (``--runs``, default every
``runs/oneshot_cifar10/darts-s*``) and reports

- the number of edges (of 6) on which the argmax cell (``selection: argmax``: the strongest
  op, never ``none``) has ``skip_connect``, per epoch;
- the first epoch from which the argmax cell is skip-dominated (skip on at least
  ``--dominated`` edges, default 3 = half) and stays so until the last epoch;
- the NB201 table's ``c10_test`` of the argmax cell per epoch (a look-up for reporting: it
  plays no part in any choice);
- the same for the argmax with ``none`` allowed (``selection.allow_none``: what NB201's own
  DARTS code selects), with its count of parameter-free edges (skip or none);

and plots alpha's trajectory (every op's weight on every edge, seed by seed) next to the skip
count and the argmax cell's table accuracy. Writes ``results/darts_collapse_cifar10.json``
and ``.png``.

    .venv/bin/python benchmarks/darts_collapse_cifar10.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import REPO, display_path, new_figure, save_figure
from skeleton import finish, parser, start

from nasforge.architecture import Architecture
from nasforge.evaluators.table import NB201Table
from nasforge.selection.base import best_op
from nasforge.spaces.nb201 import EDGES, NB201_OPS, NB201Space, edge_label
from nasforge.supernet.checkpoint import CHECKPOINT, read_checkpoint

SKIP = NB201_OPS.index("skip_connect")
PAPER_DARTS_C10 = 54.30


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__, "darts_collapse_cifar10", table=True)
    p.add_argument("--runs", nargs="*", default=None, help="DARTS run directories")
    p.add_argument("--dominated", type=int, default=3, help="skip edges that make a collapse")
    return p.parse_args(argv)


def argmax_cell(weights: np.ndarray, allow_none: bool = False) -> str:
    """The NB201 string of the cell ``selection: argmax`` picks from these weights (rows in
    ``EDGES`` order): the strongest op on every edge, never ``none`` unless ``allow_none``."""
    labels = [edge_label(*e) for e in EDGES]
    arch = Architecture({label: best_op(NB201_OPS, torch.from_numpy(row), allow_none)[0]
                         for label, row in zip(labels, weights, strict=True)})
    return NB201Space().format(arch)


def collapse_epoch(skips: Sequence[int], dominated: int) -> int | None:
    """The first epoch (1-based) from which the skip count stays >= ``dominated``."""
    first = None
    for epoch, count in enumerate(skips, start=1):
        first = (first or epoch) if count >= dominated else None
    return first


def op_weights(run: Path) -> np.ndarray | None:
    """softmax(alpha) after each epoch, (epochs, edges, ops): from a finished run's
    ``op_weights.npy``, else from the checkpoint of a run still training."""
    if (run / "op_weights.npy").is_file():
        return np.load(run / "op_weights.npy")
    if (run / CHECKPOINT).is_file():
        weights = read_checkpoint(run / CHECKPOINT)["state"].weights
        return np.asarray(weights) if weights else None
    return None


def analyse(run: Path, weights: np.ndarray, table: NB201Table, dominated: int
            ) -> dict[str, Any]:
    cells = [argmax_cell(w) for w in weights]
    skips = [c.count("skip_connect") for c in cells]
    with_none = [argmax_cell(w, allow_none=True) for w in weights]
    return {"run": display_path(run), "epochs": len(weights), "argmax_cells": cells,
            "skip_edges": skips, "c10_test": [table.value(c, "c10_test") for c in cells],
            "collapse_epoch": collapse_epoch(skips, dominated),
            "allow_none": {"argmax_cells": with_none,
                           "parameter_free_edges": [c.count("skip_connect") + c.count("none")
                                                    for c in with_none],
                           "c10_test": [table.value(c, "c10_test") for c in with_none]},
            "skip_weight_mean": [float(w[:, SKIP].mean()) for w in weights],
            "weights": weights.round(4).tolist()}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table_path = start(args)
    runs = [Path(r) for r in args.runs] if args.runs else sorted(
        (REPO / "runs" / "oneshot_cifar10").glob("darts-s*[0-9]"))
    weights = {r: w for r in runs if (w := op_weights(r)) is not None}
    if not weights:
        raise SystemExit("no DARTS run with alpha recorded: run benchmarks/oneshot_cifar10.py "
                         "--methods darts first")
    table = NB201Table(table_path)
    results = [analyse(r, w, table, args.dominated) for r, w in weights.items()]
    payload = {"dominated_if_skip_edges_at_least": args.dominated,
               "paper_darts_c10_test": PAPER_DARTS_C10, "runs": results}
    return finish(args.out, payload, lambda p, path: plot(p["runs"], path), report)


def report(payload: dict[str, Any]) -> str:
    """Per run: the skip edges at the end, the collapse epoch, the final argmax cells."""
    return "\n".join(
        f"{r['run']}: {r['epochs']} epochs, skip edges at the end {r['skip_edges'][-1]}, "
        f"collapse epoch {r['collapse_epoch']}, final argmax {r['argmax_cells'][-1]} "
        f"-> {r['c10_test'][-1]:.2f}; none allowed: {r['allow_none']['argmax_cells'][-1]} "
        f"-> {r['allow_none']['c10_test'][-1]:.2f}" for r in payload["runs"])


def plot(results: list[dict[str, Any]], path: Path) -> None:
    fig = new_figure(13, 3.8)
    left, mid, right = fig.subplots(1, 3)
    first = np.array(results[0]["weights"])  # (epochs, edges, ops)
    epochs = np.arange(1, len(first) + 1)
    colors = {"none": "tab:gray", "skip_connect": "tab:red", "nor_conv_1x1": "tab:green",
              "nor_conv_3x3": "tab:blue", "avg_pool_3x3": "tab:orange"}
    for k, op in enumerate(NB201_OPS):
        for e in range(first.shape[1]):
            left.plot(epochs, first[:, e, k], color=colors[op], lw=1,
                      label=op if e == 0 else None)
    left.set_title(f"softmax(alpha), every edge: {results[0]['run']}", fontsize=8)
    left.set_xlabel("epoch")
    left.legend(fontsize=7)
    for r in results:
        x = np.arange(1, r["epochs"] + 1)
        mid.plot(x, r["skip_edges"], label=Path(r["run"]).name)
        right.plot(x, r["c10_test"], label=Path(r["run"]).name)
        right.plot(x, r["allow_none"]["c10_test"], ls=":",
                   label=f"{Path(r['run']).name}, none allowed")
    mid.set_ylabel("argmax cell: edges with skip_connect (of 6)")
    mid.set_xlabel("epoch")
    right.axhline(PAPER_DARTS_C10, color="k", ls="--", lw=1, label="paper: DARTS 54.30")
    right.set_ylabel("argmax cell: NB201 c10_test (%)")
    right.set_xlabel("epoch")
    for ax in (mid, right):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    save_figure(fig, path)


if __name__ == "__main__":
    sys.exit(main())
