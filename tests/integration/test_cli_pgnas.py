"""PGNAS through the command line: gated supernet, posterior-guided sampling, kill -9 during
the sampling, resume, same winner; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_helpers import kill_when, nasforge, one_line_error

TINY = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 1000, train_size: 300, valid_fraction: 0.5, batch_size: 50}
strategy: {name: pgnas, epochs: 2}
selection: {name: posterior, candidates: 40, checkpoint_every: 5}
evaluator: {name: table}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pgnas")
    (path / "pg.yaml").write_text(TINY)
    nasforge("search", "pg.yaml", "--out", "full", cwd=path)
    return path


def test_outputs(workdir: Path):
    run = workdir / "full"
    for name in ("best.json", "report.html", "candidates.csv", "dropped.csv",
                 "plots/candidates.png", "plots/alpha.png", "selection_scores.csv"):
        assert (run / name).is_file(), name
    assert json.loads((run / "best.json").read_text())["arch_str"].startswith("|")
    assert len((run / "selection_scores.csv").read_text().splitlines()) == 41
    html = (run / "report.html").read_text()
    assert "Keep probabilities" in html and "softmax(alpha)" not in html
    assert "learned drop probability" in html


def sampling_started(run: Path) -> bool:
    if not (run / "checkpoint.pt").is_file():
        return False
    state = torch.load(run / "checkpoint.pt", weights_only=False)["state"]
    return state.selection is not None and state.selection["done"] >= 10


def test_kill_9_during_sampling_then_resume(workdir: Path):
    run = workdir / "killed"
    kill_when("pg.yaml", run, sampling_started, workdir)
    nasforge("search", "--resume", str(run), cwd=workdir)
    for name in ("best.json", "selection_scores.csv"):
        full = (workdir / "full" / name).read_text()
        assert (run / name).read_text().replace(str(run), "") == full.replace(
            str(workdir / "full"), ""), name


@pytest.mark.parametrize("args, message", [
    (["--set", "strategy.tau=0"], "tau"),
    (["--set", "selection.candidates=0"], "candidates"),
    (["--set", "space={name: darts, C: 2, layers: 3}", "--set", "evaluator=null"],
     "no gated supernet"),
    (["--set", "strategy.name=darts"], "gated supernet"),
])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path):
    one_line_error(nasforge("search", "pg.yaml", *args, cwd=workdir, check=False), message)
