"""The command line every benchmark script shares: its common flags, its start and its end.

A benchmark script keeps only its own experiment; around it:

- ``parser``: the flags the scripts share (``--seeds``, ``--quick``, ``--table``,
  ``--threads``, ``--set``, ``--out``, ``-v``), each added where the script asks for it, with
  one spelling and one meaning everywhere;
- ``start``: logging, torch's CPU threads, and the NB201 table (also for configs whose
  evaluator reads it from ``$NASFORGE_NB201``);
- ``finish``: ``OUT.json`` (with provenance, ``common.write_json``), ``OUT.png`` and the
  markdown summary on stdout: the outputs the README's numbers are traced to.

Runs that outlive a session are ``carry.py``'s (snapshots in ``benchmarks/state``); searches
run through the CLI with their clocks are ``cli_runs.py``'s.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from common import RESULTS, nb201_table_path, setup_logging, write_json

Payload = Mapping[str, Any]


def parser(doc: str | None, out: str | None = None, *, seeds: Sequence[int] | None = None,
           seeds_nargs: str = "+", quick: bool = False, table: bool = False,
           threads: int | None = None, overrides: bool = False) -> argparse.ArgumentParser:
    """An argument parser described by the first paragraph of ``doc`` (the script's
    docstring) with the shared flags asked for: ``--out`` defaulting to
    ``benchmarks/results/OUT``, ``--seeds`` (default ``seeds``), ``--quick``, ``--table``,
    ``--threads`` (default ``threads``), ``--set KEY=VALUE`` (``args.overrides``); and
    ``-v`` always. The script adds its own flags to it."""
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if seeds is not None:
        p.add_argument("--seeds", type=int, nargs=seeds_nargs, default=list(seeds))
    if quick:
        p.add_argument("--quick", action="store_true", help="tiny settings (a smoke run)")
    if table:
        p.add_argument("--table", default=None,
                       help="nb201_compact.csv.gz (default: $NASFORGE_NB201, else "
                            "../shared/data/nb201/nb201_compact.csv.gz next to the repo)")
    if threads is not None:
        p.add_argument("--threads", type=int, default=threads, help="torch CPU threads")
    if overrides:
        p.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE",
                       help="config override for every run, e.g. strategy.epochs=20 "
                            "(repeatable)")
    if out is not None:
        p.add_argument("--out", default=str(RESULTS / out),
                       help="output path without suffix (.json and .png are written)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def start(args: argparse.Namespace, *, threads: int | None = None, nb201_env: bool = False
          ) -> Path:
    """Set up a run of the script: logging (``-v``: debug), torch's CPU threads (``--threads``,
    else ``threads``; neither: torch's default), and the NB201 table's path, returned and, with
    ``nb201_env``, put in ``$NASFORGE_NB201`` (where configs' table evaluators look)."""
    setup_logging(getattr(args, "verbose", False))
    count = getattr(args, "threads", None) or threads
    if count is not None:
        import torch  # only here: a script's --help should not wait for torch

        torch.set_num_threads(count)
    table = nb201_table_path(getattr(args, "table", None))
    if nb201_env:
        os.environ["NASFORGE_NB201"] = str(table)
    return table


def finish(out: str | Path, payload: Payload, plot: Callable[[Any, Path], None] | None = None,
           summary: Callable[[Any], str] | None = None) -> int:
    """End a run of the script: ``OUT.json`` (provenance first), ``plot(payload, OUT.png)`` and
    ``summary(payload)`` printed (the markdown the README quotes), where given; 0, the exit
    status."""
    out = Path(out)
    write_json(out.with_suffix(".json"), payload)
    if plot is not None:
        plot(payload, out.with_suffix(".png"))
    if summary is not None:
        print(summary(payload))
    return 0


def require(path: Path, made_by: str) -> Path:
    """``path``, or exit with what makes it (a run directory a fresh checkout lacks: finished
    runs are not kept in the repository, only their results)."""
    if not path.exists():
        raise SystemExit(f"{path} not found: {made_by}")
    return path
