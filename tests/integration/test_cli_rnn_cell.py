"""The RL controller searching recurrent cells through the command line (Zoph & Le 2017,
Sec. 3.4): a tiny search on the synthetic corpus, retraining the best cell, kill -9 and resume
giving the same trials, and one-line errors for a bad corpus."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cli_helpers import kill_when, nasforge, one_line_error

TINY = """\
seed: 0
space: {name: rnn_cell, base: 2, hidden: 12}
evaluator: {name: lm, cache_dir: corpus, synthetic_words: 3000, synthetic_vocab: 10, bptt: 10,
            batch_size: 10, epochs: 1, max_batches: 10}
strategy: {name: controller, batch: 2, lr: 0.01, reward: raw, reward_metric: reward}
budget: {trials: 8}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rnn_cell")
    (path / "rnn.yaml").write_text(TINY)
    proc = nasforge("search", "rnn.yaml", "--out", "full", cwd=path)
    (path / "search.out").write_text(proc.stdout)
    return path


def archs(run: Path) -> list[str]:
    try:
        with sqlite3.connect(run / "trials.sqlite") as db:
            return [r[0] for r in db.execute("SELECT arch FROM trials WHERE status != 'running'"
                                              " ORDER BY id")]
    except sqlite3.Error:
        return []


def test_outputs_and_retraining(workdir: Path):
    run = workdir / "full"
    for name in ("best.json", "report.html", "trials.sqlite", "plots/best_cell.png",
                 "plots/controller.png"):
        assert (run / name).is_file(), name
    best = json.loads((run / "best.json").read_text())
    metrics = best["metrics"]
    assert best["space"]["name"] == "rnn_cell" and len(archs(run)) == 8
    assert metrics["valid_acc"] == metrics["reward"] == pytest.approx(
        6400.0 / metrics["valid_ppl"] ** 2)
    assert "test_ppl" in metrics and "c_t:" in best["arch_str"]
    summary = (workdir / "search.out").read_text()  # the reward is named as what it is
    assert f"reward {metrics['reward']:.2f} (search signal)" in summary
    assert "valid_acc" not in summary
    assert "c / valid_ppl^2" in (run / "report.html").read_text()
    proc = nasforge("train", str(run / "best.json"), "--epochs", "1", "--out", "model",
                    cwd=workdir)
    assert "valid_ppl" in proc.stdout and "test_ppl" in proc.stdout
    record = json.loads((workdir / "model" / "retrain.json").read_text())
    assert record["epochs"] == 1 and record["valid_ppl"] > 1
    assert (workdir / "model" / "model.pt").is_file()


def test_kill_9_then_resume_gives_the_same_trials(workdir: Path):
    run = workdir / "killed"
    kill_when("rnn.yaml", run, lambda r: len(archs(r)) >= 3, workdir)
    before = archs(run)
    assert 3 <= len(before) < 8
    nasforge("search", "--resume", str(run), cwd=workdir)
    assert archs(run) == archs(workdir / "full")
    full = json.loads((workdir / "full" / "best.json").read_text())
    resumed = json.loads((run / "best.json").read_text())
    assert resumed["arch_str"] == full["arch_str"] and resumed["metrics"] == full["metrics"]


BAD = [
    (["--set", "evaluator.data_dir=missing"], "not found"),
    (["--set", "evaluator.data_dir=empty"], "empty corpus"),
]  # bad settings (reward, base) are unit-tested: tests/unit/evaluators/test_lm.py


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path):
    empty = workdir / "empty"
    empty.mkdir(exist_ok=True)
    for split in ("train", "valid", "test"):
        (empty / f"ptb.{split}.txt").write_text("\n")
    proc = nasforge("search", "rnn.yaml", *args, cwd=workdir, check=False)
    one_line_error(proc, message)
