"""Run directories that outlive a working copy: benchmarks that take several sessions (the
proxy table, the CIFAR-10 reproductions) keep a consistent copy of their run directories in
``benchmarks/state/`` (tracked), and start from it where a fresh checkout has no ``runs/``.

A snapshot copies each SQLite store with SQLite's backup API (a consistent copy even while
the run writes to it, WAL included) and every other file as it is (checkpoints are replaced
atomically by the runs, so a copy is one whole version). Restoring copies the snapshot back
only where the run directory is missing; the run then resumes as after a kill: finished
trials and epochs are kept, an interrupted one is redone.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from common import REPO

from nasforge.supernet_reuse import TRAINED

STATE = REPO / "benchmarks" / "state"
SKIPPED_SUFFIXES = (".sqlite-wal", ".sqlite-shm", ".tmp", ".lock")

log = logging.getLogger("benchmarks.carry")


def snapshot(run_dir: Path, name: str, skip: Callable[[Path], bool] = lambda path: False
             ) -> Path:
    """Copy ``run_dir`` to ``benchmarks/state/NAME`` (replacing an older snapshot), leaving
    out the files ``skip`` names (what a finished run no longer needs to resume)."""
    dest = STATE / name
    tmp = dest.with_name(dest.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.endswith(SKIPPED_SUFFIXES) or skip(path):
            continue
        target = tmp / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".sqlite":
            _backup(path, target)
        else:
            shutil.copy2(path, target)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    log.info("snapshot of %s in %s", run_dir, dest)
    return dest


def restore(name: str, run_dir: Path) -> bool:
    """Copy the snapshot ``NAME`` to ``run_dir`` if that is missing; True if it did."""
    source = STATE / name
    if run_dir.exists() or not source.is_dir():
        return False
    shutil.copytree(source, run_dir)
    log.info("restored %s from %s", run_dir, source)
    return True


def restore_missing(name: str, parent: Path) -> list[Path]:
    """Copy every entry of the snapshot ``NAME`` (one per run, plus side files) that
    ``parent`` lacks into it; the paths copied."""
    source = STATE / name
    copied = []
    for entry in sorted(source.iterdir()) if source.is_dir() else []:
        target = parent / entry.name
        if target.exists():
            continue
        parent.mkdir(parents=True, exist_ok=True)
        if entry.is_dir():
            shutil.copytree(entry, target)
        else:
            shutil.copy2(entry, target)
        copied.append(target)
    if copied:
        log.info("restored %d entries of %s from %s", len(copied), parent, source)
    return copied


def finished_run_leftover(path: Path) -> bool:
    """Whether ``path`` is a file of a finished run (its directory holds ``best.json``) that
    neither a resume nor a later adoption of its supernet reads: its last checkpoint, its
    report and plots (rewritten by any resume), and an adopted copy of another run's supernet.
    Everything of an unfinished run is needed to resume it."""
    run = next((p for p in path.parents if (p / "config.yaml").is_file()), None)
    if run is None or not (run / "best.json").is_file():
        return False
    relative = path.relative_to(run)
    if relative.name in ("checkpoint.pt", "report.html") or relative.parts[0] == "plots":
        return True
    return relative.name == TRAINED and "supernet_from" in (run / "config.yaml").read_text()


def _backup(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()
