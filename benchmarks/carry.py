"""Run directories that outlive a working copy: benchmarks that take several sessions (the
proxy table, the CIFAR-10 reproductions) keep a consistent copy of the runs they still have in
flight in ``benchmarks/state/`` (tracked), and start from it where a fresh checkout has no
``runs/``. Once a benchmark has written its final results (``benchmarks/results/``) it
releases its snapshot: the repository keeps the results of a finished run, not the run.

A snapshot holds only what a resume reads: each SQLite store, copied with SQLite's backup API
(a consistent copy even while the run writes to it, WAL included), and the other files a run
continues from as they are (checkpoints are replaced atomically by the runs, so a copy is one
whole version); never report pages or plots, which every resume rewrites. Restoring copies the
snapshot back only where the run directory is missing; the run then resumes as after a kill:
finished trials and epochs are kept, an interrupted one is redone. Without a snapshot (a fresh
checkout after the release) a benchmark simply starts from scratch.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from common import REPO

from nasforge.run.supernet_reuse import TRAINED

STATE = REPO / "benchmarks" / "state"
SKIPPED_SUFFIXES = (".sqlite-wal", ".sqlite-shm", ".tmp", ".lock")

log = logging.getLogger("benchmarks.carry")


def snapshot(run_dir: Path, name: str, skip: Callable[[Path], bool] = lambda path: False
             ) -> Path | None:
    """Copy what a resume of ``run_dir`` reads to ``benchmarks/state/NAME`` (replacing an older
    snapshot), leaving out ``resume_leftover`` files and those ``skip`` names (what the caller
    knows no later session needs). With nothing left to copy the snapshot is released; None."""
    dest = STATE / name
    tmp = dest.with_name(dest.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.endswith(SKIPPED_SUFFIXES) \
                or resume_leftover(path, run_dir) or skip(path):
            continue
        target = tmp / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".sqlite":
            _backup(path, target)
        else:
            shutil.copy2(path, target)
    if not tmp.is_dir():
        release(name)
        return None
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    log.info("snapshot of %s in %s", run_dir, dest)
    return dest


def release(name: str) -> bool:
    """Remove the snapshot ``NAME`` once its runs' final results are written (a finished run
    keeps only its results JSON/CSV/plots), and the folders it leaves empty inside
    ``benchmarks/state``; True if there was one."""
    path = STATE / name
    if not path.exists():
        return False
    shutil.rmtree(path)
    parent = path.parent
    while parent != STATE and parent.is_relative_to(STATE) and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    log.info("released %s: the results are written", path)
    return True


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


def unfinished(parent: Path) -> list[Path]:
    """The run directories directly in ``parent`` that have not finished (no ``best.json``)."""
    if not parent.is_dir():
        return []
    return sorted(run for run in parent.iterdir()
                  if (run / "config.yaml").is_file() and not (run / "best.json").is_file())


def resume_leftover(path: Path, root: Path) -> bool:
    """Whether no resume reads ``path`` (a file below ``root``): a report page or plot of any
    run (each resume or finish rewrites them; they are most of a run's bytes), and of a
    finished run (its directory holds ``best.json``) its last checkpoint and an adopted copy of
    another run's supernet. A finished run's own trained supernet stays: a later run may adopt
    it."""
    if path.suffix == ".html" or "plots" in path.relative_to(root).parts:
        return True
    run = next((p for p in path.parents if (p / "config.yaml").is_file()), None)
    if run is None or not (run / "best.json").is_file():
        return False
    if path.name == "checkpoint.pt":
        return True
    return path.name == TRAINED and "supernet_from" in (run / "config.yaml").read_text()


def _backup(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()
