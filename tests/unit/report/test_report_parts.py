"""The pieces of the report: series, ordering, formatting, cell-drawing dispatch, speed."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes

from nasforge.architecture import Architecture, Categorical
from nasforge.evaluators.base import Result
from nasforge.report import draw_cell, register_cell_drawer, write_report
from nasforge.report.cells import draw_choice_table, draw_nb201, find_drawer
from nasforge.report.data import progress, summarize, top_trials
from nasforge.report.html import fmt_number, fmt_seconds
from nasforge.run.store import STORE_NAME, Trial, TrialStore
from nasforge.spaces.base import FunctionSpace, SearchSpace
from nasforge.spaces.nb201 import NB201Space

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ARCH = Architecture(a=1)


def trial(i: int, valid: float | None, test: float | None = None, cost: float = 1.0) -> Trial:
    metrics = {} if valid is None else {"valid_acc": valid}
    if test is not None:
        metrics["test_acc"] = test
    result = Result(metrics=metrics, cost=cost) if valid is not None else Result.failed("x", cost)
    return Trial(i, ARCH, "k", result.status, result, started=10.0 + i, finished=11.0 + i)


def test_best_so_far_follows_the_signal_and_carries_the_incumbents_test_acc() -> None:
    trials = [trial(1, None), trial(2, 5.0, 50.0), trial(3, 4.0, 99.0), trial(4, 5.0, 1.0),
              trial(5, 7.0, 70.0, cost=2.5)]
    prog = progress(trials)
    assert np.isnan(prog.best[0]) and np.isnan(prog.signal[0])
    assert list(prog.best[1:]) == [5.0, 5.0, 5.0, 7.0]
    assert list(prog.best_test[1:]) == [50.0, 50.0, 50.0, 70.0]  # a tie keeps the earlier one
    assert list(prog.cum_cost) == [1.0, 2.0, 3.0, 4.0, 6.5]
    assert prog.has_test


def test_summary_and_top_trials_order() -> None:
    trials = [trial(1, None), trial(2, 5.0), trial(3, 9.0), trial(4, 9.0)]
    summary = summarize(trials)
    assert (summary.n_trials, summary.n_ok, summary.n_failed) == (4, 3, 1)
    assert summary.best is not None and summary.best.id == 3
    assert summary.wall_time == 4.0 and summary.total_cost == 4.0
    assert [t.id for t in top_trials(trials, 3)] == [3, 4, 2]
    assert [t.id for t in top_trials(trials)] == [3, 4, 2, 1]


def test_formatting() -> None:
    assert fmt_number(None) == fmt_number(math.nan) == "–"
    assert fmt_number(1234567) == "1,234,567" and fmt_number(93.7612) == "93.76"
    assert fmt_seconds(0.0123) == "0.0123 s" and fmt_seconds(7200.0) == "7,200.0 s (2.0 h)"


class DrawingSpace(FunctionSpace):
    """A space that draws itself."""

    def draw(self, arch: Architecture, ax: Axes) -> None:
        ax.text(0.5, 0.5, f"custom {dict(arch)}")
        self.drawn = arch


class Sub201(NB201Space):
    pass


class Registered(FunctionSpace):
    pass


def test_draw_cell_dispatch(tmp_path: Path) -> None:
    decisions = [Categorical("a", [1, 2])]
    space = DrawingSpace(decisions)
    draw_cell(space, ARCH, tmp_path / "own.png")
    assert space.drawn == ARCH and (tmp_path / "own.png").read_bytes().startswith(PNG_MAGIC)
    assert find_drawer(Sub201()) is draw_nb201  # registered drawers cover subclasses
    assert find_drawer(FunctionSpace(decisions)) is draw_choice_table

    calls: list[Architecture] = []

    @register_cell_drawer(Registered)
    def draw_registered(space: SearchSpace, arch: Architecture, ax: Axes) -> None:
        calls.append(arch)

    draw_cell(Registered(decisions), ARCH, tmp_path / "reg.png")
    assert calls == [ARCH]


def test_nb201_cell_with_none_edges(tmp_path: Path) -> None:
    space = NB201Space()
    arch = space.parse("|none~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|")
    path = draw_cell(space, arch, tmp_path / "cell.png", title="a cell")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_a_thousand_trials_report_quickly(tmp_path: Path) -> None:
    space = NB201Space()
    rng = np.random.default_rng(0)
    with TrialStore(tmp_path / STORE_NAME) as store:
        store.db.execute("BEGIN")  # one transaction: fast to build
        for i in range(1000):
            arch = space.sample(rng)
            store.db.execute(
                "INSERT INTO trials (arch, key, status, metrics, cost, params, flops, started, "
                "finished) VALUES (?, ?, 'ok', ?, ?, ?, ?, ?, ?)",
                (arch.to_json(), space.key(arch), f'{{"valid_acc": {rng.random()}, '
                 f'"test_acc": {rng.random()}}}', 100.0, 10**5 + i, 10**7 + i, i, i + 1.0))
        store.db.execute("COMMIT")
    draw_cell(space, space.sample(rng), tmp_path / "warm.png")  # font cache: not timed
    start = time.perf_counter()
    html = write_report(tmp_path, space).read_text()
    assert time.perf_counter() - start < 2.0
    assert "Top 20 of 1000 trials" in html
