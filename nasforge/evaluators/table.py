"""NAS-Bench-201 as a tabular benchmark: look accuracies up, charge simulated training time."""

from __future__ import annotations

import csv
import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nasforge.architecture import Architecture
from nasforge.data.base import cache_root
from nasforge.errors import ConfigError, DataError
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result
from nasforge.registry import EVALUATORS
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.nb201 import NB201Space

ENV_VAR = "NASFORGE_NB201"
Dataset = Literal["cifar10", "cifar100", "ImageNet16-120"]


@dataclass(frozen=True)
class Columns:
    """Which table columns give one data set's search signal, test accuracy and cost."""

    valid_200: str
    valid_12: str
    test: str
    test_12: str
    short: str  # suffix of the params/FLOPs columns


COLUMNS: dict[str, Columns] = {
    "cifar10": Columns("c10v_valid", "c10v_valid_12ep", "c10_test", "c10_test_12ep", "c10"),
    "cifar100": Columns("c100_valid_approx", "c100_valid_12ep", "c100_test", "c100_test_12ep",
                        "c100"),
    "ImageNet16-120": Columns("in16_valid_approx", "in16_valid_12ep", "in16_test",
                              "in16_test_12ep", "in16"),
}


TABLE_FILE = "nb201_compact.csv.gz"


def cached_table() -> Path:
    """The table's place in the user cache folder (``$NASFORGE_CACHE`` or ``~/.cache/nasforge``),
    where a first NB201 command finds it without settings."""
    return cache_root().expanduser() / TABLE_FILE


def default_table_path() -> Path:
    """The table when ``evaluator.path`` is not set: ``$NASFORGE_NB201``, else the cache folder."""
    value = os.environ.get(ENV_VAR)
    if value:
        return Path(value).expanduser()
    cached = cached_table()
    if cached.is_file():
        return cached
    raise DataError(
        f"no NAS-Bench-201 table: set evaluator.path (--set evaluator.path=FILE), set "
        f"{ENV_VAR}=FILE, or put {TABLE_FILE} in {cached.parent}; the table holds "
        "NAS-Bench-201's measured accuracies, one row per architecture (Dong & Yang, ICLR "
        "2020; docs/benchmarks/nb201.md says where it comes from)"
    )


class NB201Table:
    """The rows of ``nb201_compact.csv.gz``, indexed by architecture string. Load once and
    share between evaluators (a benchmark over many seeds reads the file once)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_table_path()
        self.rows: dict[str, dict[str, str]] = {}
        for row in self._read():
            self.rows[row["arch_str"]] = row
        if len(self.rows) != 15625:
            raise DataError(f"{self.path}: expected 15625 architectures, found {len(self.rows)}")

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            raise DataError(f"NAS-Bench-201 table not found: {self.path}")
        try:
            with gzip.open(self.path, "rt", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{self.path}: corrupt NAS-Bench-201 table ({exc})") from None
        if not rows or "arch_str" not in rows[0]:
            raise DataError(f"{self.path}: corrupt NAS-Bench-201 table (no arch_str column)")
        return rows

    def value(self, arch_str: str, column: str) -> float:
        row = self.rows.get(arch_str)
        if row is None:
            raise DataError(f"architecture {arch_str!r} is not in the NAS-Bench-201 table")
        if column not in row:
            raise DataError(f"{self.path}: no column {column!r}")
        return float(row[column])

    def columns(self) -> list[str]:
        return list(next(iter(self.rows.values())))


@EVALUATORS.register("table")
class TableEvaluator(Evaluator):
    """Looks an NB201 cell up in the table (Dong & Yang, ICLR 2020).

    The search signal ``valid_acc`` is the validation accuracy after ``fidelity`` epochs (12 or
    200); ``test_acc`` is always the 200-epoch test accuracy (for reporting, never for search);
    ``cost`` is the simulated training time of ``fidelity`` epochs. With the defaults this is
    the NB201 paper's protocol for multi-trial search on CIFAR-10.
    """

    def __init__(self, space: SearchSpace, dataset: Dataset = "cifar10",
                 fidelity: Literal[12, 200] = 12, path: str | None = None,
                 latency_device: str | None = None, table: NB201Table | None = None) -> None:
        if not isinstance(space, NB201Space):
            raise ConfigError(f"the table evaluator needs the nb201 space, not {space.name!r}")
        if dataset not in COLUMNS:
            raise ConfigError(f"evaluator.dataset must be one of {sorted(COLUMNS)}: {dataset!r}")
        if fidelity not in (12, 200):
            raise ConfigError(f"evaluator.fidelity must be 12 or 200, got {fidelity!r}")
        self.space, self.dataset, self.fidelity = space, dataset, fidelity
        self.table = table or NB201Table(path)
        self.cols = COLUMNS[dataset]
        self.latency_column = f"lat_ms_{latency_device}" if latency_device else None
        if self.latency_column and self.latency_column not in self.table.columns():
            devices = [c[len("lat_ms_"):] for c in self.table.columns() if c.startswith("lat_ms_")]
            raise ConfigError(f"unknown latency device {latency_device!r}; known: {devices}")

    def evaluate(self, arch: Architecture) -> Result:
        text = self.space.format(arch)
        value = self.table.value
        cols = self.cols
        valid = value(text, cols.valid_12 if self.fidelity == 12 else cols.valid_200)
        metrics = {
            OBJECTIVE: valid,
            "test_acc": value(text, cols.test),
            "test_acc_12ep": value(text, cols.test_12),
        }
        if self.latency_column:
            metrics["latency_ms"] = value(text, self.latency_column)
        return Result(
            metrics=metrics,
            cost=self.train_seconds(text),
            params=round(value(text, f"params_mb_{cols.short}") * 1e6),
            flops=round(value(text, f"flops_m_{cols.short}") * 1e6),
        )

    def train_seconds(self, arch_str: str) -> float:
        """Simulated time of training ``fidelity`` epochs."""
        if self.dataset == "cifar10":
            per_epoch = self.table.value(arch_str, "c10v_train_sec_per_epoch")
        else:
            column = "c100_train_sec_200ep" if self.dataset == "cifar100" else \
                "in16_train_sec_200ep"
            per_epoch = self.table.value(arch_str, column) / 200.0
        return per_epoch * self.fidelity

    def describe(self) -> dict[str, object]:
        return {"evaluator": "table", "dataset": self.dataset, "fidelity": self.fidelity,
                "table": str(self.table.path)}
