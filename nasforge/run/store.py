"""The SQLite trial store of a run directory (WAL mode, one row per trial).

A started trial and the strategy state after asking it, and a finished trial and the strategy
state after seeing it, are each written in ONE transaction, so after a crash (even
``kill -9``) the store never holds a result the strategy did not see, nor the other way round.
A trial found ``running`` on resume was in flight: if the saved strategy state already
includes its ask (``asked_through``), it is evaluated again as it is (nothing asked twice);
otherwise it is discarded and the strategy asks again.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nasforge import saved_state
from nasforge.architecture import Architecture
from nasforge.errors import RunDirError
from nasforge.evaluators.base import Result

STORE_NAME = "trials.sqlite"  # the store's file in a run directory

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    arch TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    metrics TEXT,
    cost REAL,
    params INTEGER,
    flops INTEGER,
    error TEXT,
    started REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS checkpoint (
    slot INTEGER PRIMARY KEY CHECK (slot = 0),
    after_trial INTEGER NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Trial:
    id: int
    arch: Architecture
    key: str
    status: str
    result: Result
    started: float
    finished: float | None


class TrialStore:
    """Trials of one run. Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        existed = str(path) != ":memory:" and self.path.is_file()
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                self._check_intact()
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RunDirError(f"{self.path}: not a nasforge trial store ({exc})") from None

    def _check_intact(self) -> None:
        """A file with a valid header but damaged pages (a disk error, a copy cut short)
        opens fine and fails on some later query; find out now, in one place. The check
        reads every page once: milliseconds for a trial store."""
        try:
            problems = [row[0] for row in self.db.execute("PRAGMA quick_check(1)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            self.db.close()
            lines = [line for line in str(problems[0]).splitlines()
                     if line.strip() and not line.startswith("***")]  # "*** in database main"
            first = (lines[0] if lines else str(problems[0])).strip()
            raise RunDirError(f"{self.path} is damaged ({first}): its run cannot be read or "
                              "resumed; start a new run (sqlite3's .recover may save its "
                              "trials)")

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def start(self, arch: Architecture, key: str, strategy_state: Any = None) -> int:
        """Record a trial as running, and (atomically) the strategy state after its ask."""
        with self._transaction():
            cur = self.db.execute(
                "INSERT INTO trials (arch, key, status, started) VALUES (?, ?, 'running', ?)",
                (arch.to_json(), key, time.time()),
            )
            assert cur.lastrowid is not None
            if strategy_state is not None:
                self._save_state(cur.lastrowid, strategy_state)
        return cur.lastrowid

    def finish(self, trial_id: int, result: Result, strategy_state: Any = None) -> None:
        """Record the result, and the strategy state after seeing it, atomically."""
        with self._transaction():
            self.db.execute(
                "UPDATE trials SET status=?, metrics=?, cost=?, params=?, flops=?, error=?, "
                "finished=? WHERE id=?",
                (result.status, json.dumps(result.metrics), result.cost, result.params,
                 result.flops, result.error, time.time(), trial_id),
            )
            if strategy_state is not None:
                self._save_state(trial_id, strategy_state)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed, or rolled back on any exception. A Ctrl-C can
        land just after COMMIT took effect: then there is nothing to roll back, and the
        interrupt, not sqlite's "no transaction is active", must reach the caller."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _save_state(self, trial_id: int, state: Any) -> None:
        """``after_trial`` is the last trial ASKED when the state was saved: every trial up
        to it is reflected in the state (asked, maybe not yet told)."""
        del trial_id
        buffer = io.BytesIO()
        torch.save(state, buffer)
        asked = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM trials").fetchone()[0]
        self.db.execute(
            "INSERT OR REPLACE INTO checkpoint (slot, after_trial, state) VALUES (0, ?, ?)",
            (asked, buffer.getvalue()),
        )

    def save_state(self, trial_id: int, state: Any) -> None:
        self._save_state(trial_id, state)

    def load_state(self) -> tuple[int, Any] | None:
        row = self.db.execute("SELECT after_trial, state FROM checkpoint WHERE slot=0").fetchone()
        if row is None:
            return None
        # strategy states load onto the CPU, wherever they were saved
        return row[0], saved_state.load(io.BytesIO(row[1]))

    def discard_running(self, after: int = 0) -> int:
        """Drop trials in flight when the run stopped whose ask the saved strategy state does
        not include (id > ``after``); they will be asked again."""
        return self.db.execute("DELETE FROM trials WHERE status='running' AND id > ?",
                               (after,)).rowcount

    def count_trials(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    def trials(self, status: str | None = None) -> list[Trial]:
        query = "SELECT id, arch, key, status, metrics, cost, params, flops, error, started, " \
                "finished FROM trials"
        args: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status=?"
            args = (status,)
        return [self._row_to_trial(row) for row in self.db.execute(query + " ORDER BY id", args)]

    @staticmethod
    def _row_to_trial(row: tuple[Any, ...]) -> Trial:
        tid, arch, key, status, metrics, cost, params, flops, error, started, finished = row
        result = Result(
            metrics=json.loads(metrics) if metrics else {},
            cost=cost or 0.0, params=params, flops=flops,
            status="failed" if status == "failed" else "ok", error=error,
        )
        return Trial(tid, Architecture.from_json(arch), key, status, result, started, finished)

    def set_meta(self, name: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                        (name, json.dumps(value)))

    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return default if row is None else json.loads(row[0])


def best_trial(trials: Sequence[Trial]) -> Trial | None:
    """The finished trial with the highest search signal (the earliest on a tie)."""
    ok = [t for t in trials if t.status == "ok" and math.isfinite(t.result.objective)]
    return max(ok, key=lambda t: (t.result.objective, -t.id)) if ok else None
