"""write_report on run directories built directly with the TrialStore, and end to end."""

from __future__ import annotations

import math
import re
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from nasforge.architecture import Architecture, Categorical
from nasforge.config import Budget
from nasforge.evaluators.base import Result
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.report import write_report
from nasforge.run.loop import run_search
from nasforge.run.store import STORE_NAME, TrialStore
from nasforge.spaces.base import FunctionSpace, SearchSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.random import RandomSearch

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ("progress.png", "accuracy_vs_size.png", "best_cell.png")


def visible_text(html: str) -> str:
    """What a browser shows: architecture strings are split into unbreakable spans."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC), path


def store_run(run_dir: Path, space: SearchSpace, results: list[Result], seed: int = 0
              ) -> list[Architecture]:
    """A run directory whose store holds one trial per result, on sampled architectures."""
    run_dir.mkdir()
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in results]
    with TrialStore(run_dir / STORE_NAME) as store:
        for arch, result in zip(archs, results, strict=True):
            store.finish(store.start(arch, space.key(arch)), result)
    return archs


def table_like(i: int) -> Result:
    """A result as the NB201 table gives it (test_acc, params, FLOPs, simulated cost)."""
    return Result(metrics={"valid_acc": 70.0 + (i * 7919 % 97) / 10, "test_acc": 90.0 + i % 5},
                  cost=100.0 + i, params=100_000 + 1000 * i, flops=10**7 + 10**5 * i)


def test_nb201_report_has_plots_best_arch_and_test_acc(tmp_path: Path) -> None:
    space = NB201Space()
    results = [table_like(i) for i in range(15)]
    results[5] = Result.failed("CUDA out of memory <boom>")
    archs = store_run(tmp_path / "run", space, results)
    (tmp_path / "run" / "config.yaml").write_text("space: {name: nb201}\n")
    html = write_report(tmp_path / "run", space).read_text()
    best = max(range(15), key=lambda i: (results[i].objective, -i))
    assert space.format(archs[best]) in visible_text(html)
    assert "test_acc" in html and "FLOPs" in html and "space: {name: nb201}" in html
    assert "&lt;boom&gt;" in html and "<boom>" not in html  # escaped
    assert "<h1>nasforge run: run</h1>" in html
    for name in PLOTS:
        assert f'title="plots/{name}"' in html  # embedded (see test_report_truth.py)
        assert_png(tmp_path / "run" / "plots" / name)


def test_custom_space_with_plain_metrics(tmp_path: Path) -> None:
    space = FunctionSpace([Categorical("depth", [1, 2, 3]), Categorical("act", ["relu", "gelu"]),
                           Categorical("width", [16, 32, 64])], name="mlp")
    results = [Result(metrics={"valid_acc": math.sin(i)}, cost=0.01) for i in range(12)]
    archs = store_run(tmp_path / "run", space, results)
    html = write_report(tmp_path / "run", space).read_text()
    best = int(np.argmax([math.sin(i) for i in range(12)]))
    assert space.format(archs[best]) in visible_text(html)
    assert "test_acc" not in html and "FLOPs" not in html
    assert_png(tmp_path / "run" / "plots" / "progress.png")
    assert_png(tmp_path / "run" / "plots" / "best_cell.png")  # the decision -> choice table
    assert not (tmp_path / "run" / "plots" / "accuracy_vs_size.png").exists()
    assert "accuracy_vs_size.png" not in html


def test_zero_trials(tmp_path: Path) -> None:
    store_run(tmp_path / "run", NB201Space(), [])
    html = write_report(tmp_path / "run", NB201Space()).read_text()
    assert "no successful trial" in html and "no trials" in html
    assert "<img" not in html


def test_directory_without_store_is_not_given_one(tmp_path: Path) -> None:
    write_report(tmp_path, NB201Space())
    assert (tmp_path / "report.html").is_file() and not (tmp_path / STORE_NAME).exists()


def test_all_failed(tmp_path: Path) -> None:
    results = [Result.failed(f"error {i}\ntraceback", cost=1.5) for i in range(4)]
    store_run(tmp_path / "run", NB201Space(), results)
    html = write_report(tmp_path / "run", NB201Space()).read_text()
    assert "0 / 4" in html and "no successful trial" in html
    assert "failed: error 3" in html and "traceback" not in html
    assert "<img" not in html


@pytest.mark.timeout(60)
def test_run_search_writes_report_and_best(tmp_path: Path) -> None:
    space = NB201Space()

    def convs(arch: Architecture) -> float:
        return float(sum(op == "nor_conv_3x3" for op in arch.values()))

    result = run_search(space, FunctionEvaluator(convs), RandomSearch(space, seed=0),
                        budget=Budget(trials=20), run_dir=tmp_path / "run", progress=False)
    run_dir = tmp_path / "run"
    assert (run_dir / "best.json").is_file()
    html = (run_dir / "report.html").read_text()
    assert result.best is not None and space.format(result.best.arch) in visible_text(html)
    assert "Top 20 of 20 trials" in html
    assert_png(run_dir / "plots" / "progress.png")
    assert_png(run_dir / "plots" / "best_cell.png")
