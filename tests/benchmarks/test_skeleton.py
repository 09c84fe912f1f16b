"""``benchmarks/skeleton.py``: the shared flags of the benchmark scripts and their outputs
(``OUT.json`` with provenance, ``OUT.png``, the summary printed)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def skeleton(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their siblings by name
    return importlib.import_module("skeleton")


def test_the_parser_has_the_shared_flags_asked_for(skeleton: ModuleType) -> None:
    p = skeleton.parser("Title.\n\nMore.", "name", seeds=[0, 1], quick=True, table=True,
                        threads=2, overrides=True)
    args = p.parse_args([])
    assert p.description == "Title."
    assert (args.seeds, args.quick, args.table, args.threads, args.overrides, args.verbose) == (
        [0, 1], False, None, 2, [], False)
    assert args.out.endswith(str(Path("benchmarks") / "results" / "name"))
    args = p.parse_args(["--seeds", "3", "--quick", "--set", "a=1", "--set", "b=2", "-v",
                         "--out", "x"])
    assert (args.seeds, args.quick, args.overrides, args.verbose, args.out) == (
        [3], True, ["a=1", "b=2"], True, "x")
    bare = skeleton.parser(None).parse_args([])
    assert vars(bare) == {"verbose": False}


def test_finish_writes_json_and_plot_and_prints_the_summary(
        skeleton: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plotted = []

    def plot(payload: dict[str, int], path: Path) -> None:
        plotted.append((payload["value"], path))

    status = skeleton.finish(tmp_path / "out", {"value": 3}, plot, lambda p: f"v={p['value']}")
    assert status == 0
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["value"] == 3 and "git_commit" in written["meta"]
    assert plotted == [(3, tmp_path / "out.png")]
    assert capsys.readouterr().out == "v=3\n"


def test_require_names_what_makes_a_missing_run(skeleton: ModuleType, tmp_path: Path) -> None:
    assert skeleton.require(tmp_path, "x") == tmp_path
    with pytest.raises(SystemExit, match="run the search first"):
        skeleton.require(tmp_path / "run", "run the search first")
