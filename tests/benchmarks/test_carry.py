"""``benchmarks/carry.py``: snapshots of benchmark runs in flight hold only what a resume
reads, and a finished benchmark releases its snapshot (the repository keeps results, not
runs)."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def carry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``carry`` with its snapshots under ``tmp_path/state`` instead of the repository's."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their siblings by name
    module = importlib.import_module("carry")
    monkeypatch.setattr(module, "STATE", tmp_path / "state")
    return module


def make_run(path: Path, finished: bool) -> Path:
    """A run directory as the run spine leaves it: store, config, checkpoint, report, plots."""
    (path / "plots").mkdir(parents=True)
    (path / "evolution" / "plots").mkdir(parents=True)
    (path / "config.yaml").write_text("seed: 0\n")
    with sqlite3.connect(path / "trials.sqlite") as db:
        db.execute("create table trials (id integer)")
        db.execute("insert into trials values (1)")
    db.close()
    for name in ("checkpoint.pt", "trained_supernet.pt", "report.html", "plots/progress.png",
                 "evolution/plots/generations.png", "trials.sqlite-wal"):
        (path / name).write_bytes(b"x")
    if finished:
        (path / "best.json").write_text("{}")
    return path


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_snapshot_holds_what_a_resume_reads(carry: ModuleType, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "a-s0", finished=False)
    make_run(runs / "b-s0", finished=True)
    (runs / "a-s0.clock.json").write_text("{}")
    dest = carry.snapshot(runs, "bench")
    assert files(dest) == {
        "a-s0.clock.json", "a-s0/config.yaml", "a-s0/trials.sqlite", "a-s0/checkpoint.pt",
        "a-s0/trained_supernet.pt",
        # finished: no checkpoint, its trained supernet kept for a later run to adopt
        "b-s0/config.yaml", "b-s0/trials.sqlite", "b-s0/trained_supernet.pt", "b-s0/best.json"}
    with sqlite3.connect(dest / "a-s0" / "trials.sqlite") as db:
        assert db.execute("select count(*) from trials").fetchone() == (1,)
    db.close()


def test_restore_fills_in_only_what_is_missing(carry: ModuleType, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "a-s0", finished=False)
    carry.snapshot(runs, "bench")
    fresh = tmp_path / "fresh"
    make_run(fresh / "b-s0", finished=True)
    assert carry.restore_missing("bench", fresh) == [fresh / "a-s0"]
    assert (fresh / "a-s0" / "checkpoint.pt").is_file()
    assert carry.restore("bench", tmp_path / "one")
    assert not carry.restore("bench", tmp_path / "one")  # there now: left as it is


def test_release_removes_the_snapshot_and_its_empty_folders(carry: ModuleType,
                                                             tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "argmax", finished=True)
    carry.snapshot(tmp_path / "runs", "family/config-s0")
    assert carry.release("family/config-s0")
    assert not (carry.STATE / "family").exists() and carry.STATE.is_dir()
    assert not carry.release("family/config-s0")  # a fresh checkout: nothing to release


def test_a_snapshot_with_nothing_left_to_carry_is_released(carry: ModuleType,
                                                            tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "a-s0", finished=True)
    carry.snapshot(runs, "bench")
    assert carry.snapshot(runs, "bench", skip=lambda path: True) is None
    assert not (carry.STATE / "bench").exists()


def test_unfinished_names_the_runs_in_flight(carry: ModuleType, tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "a-s0", finished=False)
    make_run(tmp_path / "runs" / "b-s0", finished=True)
    assert carry.unfinished(tmp_path / "runs") == [tmp_path / "runs" / "a-s0"]
    assert carry.unfinished(tmp_path / "missing") == []
