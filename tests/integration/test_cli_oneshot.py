"""One-shot search through the command line: DARTS-PT on NB201 (tiny), kill -9, resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from cli_helpers import nasforge

TINY = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 1000, train_size: 300, valid_fraction: 0.5, batch_size: 50}
strategy: {name: darts, epochs: 4}
selection: {name: perturbation, finetune_epochs: 1, valid_batches: 1}
evaluator: {name: table}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("oneshot")
    (path / "pt.yaml").write_text(TINY)
    proc = nasforge("search", "pt.yaml", "--out", "full", cwd=path)
    (path / "search.out").write_text(proc.stdout)
    return path


def test_outputs_of_a_dartspt_run(workdir: Path):
    run = workdir / "full"
    for name in ("best.json", "report.html", "plots/alpha.png", "selection_scores.csv",
                 "history.json", "checkpoint.pt"):
        assert (run / name).is_file(), name
    best = json.loads((run / "best.json").read_text())
    assert best["arch_str"].startswith("|") and "test_acc" in best["metrics"]
    summary = json.loads(nasforge("runs", "show", str(run), "--json", cwd=workdir).stdout)
    assert summary["status"] == "finished" and summary["n_trials"] == 1
    nasforge("train", str(run / "best.json"), "--epochs", "1", "--out", "model", cwd=workdir)
    assert (workdir / "model" / "model.ts").is_file()


def test_report_and_summary_describe_a_one_shot_run(workdir: Path):
    html = (workdir / "full" / "report.html").read_text()
    assert "softmax(alpha)" in html and "DARTS-PT: valid accuracy" in html
    assert "supernet_training.png" in html and "nasforge train " in html
    out = (workdir / "search.out").read_text()
    assert "1 trials" not in out and "one-shot: supernet trained 4 epochs" in out
    assert "NB201 table look-up of the selection:" in out
    shown = nasforge("runs", "show", str(workdir / "full"), cwd=workdir).stdout
    assert "one-shot: supernet trained 4 epochs" in shown and "trials" not in shown


def test_kill_9_then_resume_selects_the_same_cell(workdir: Path):
    run = workdir / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "nasforge", "search", "pt.yaml", "--out",
                             str(run)], cwd=workdir, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (run / "checkpoint.pt").is_file():
            state = torch.load(run / "checkpoint.pt", weights_only=False)["state"]
            if state.epoch >= 2:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "best.json").is_file(), "the run should have been killed mid-search"
    nasforge("search", "--resume", str(run), cwd=workdir)
    full = json.loads((workdir / "full" / "best.json").read_text())
    resumed = json.loads((run / "best.json").read_text())
    assert resumed["arch_str"] == full["arch_str"]


BAD = [
    (["--set", "strategy={name: random}", "--set", "budget.trials=2"], "not one-shot"),
    (["--set", "selection=null"], "needs a selection"),
    (["--set", "selection.name=magic"], "unknown selection"),
    (["--set", "strategy.order=3"], "strategy.order"),
    (["--set", "space={name: darts, C: 2, layers: 3, ops: [conv_9x9]}", "--set",
      "evaluator=null"], "conv_9x9"),
    (["--set", "supernet_from=nowhere"], "no trained_supernet.pt there"),
    (["--set", "supernet_from=full", "--set", "seed=3"], "trained with seed 0, this run has 3"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path):
    proc = nasforge("search", "pt.yaml", *args, cwd=workdir, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert message in lines[0]


def test_another_selection_on_the_trained_supernet(workdir: Path):
    proc = nasforge("search", "pt.yaml", "--set", "supernet_from=full", "--set",
                    "selection={name: argmax}", "--out", "argmax", cwd=workdir)
    assert "supernet trained 4 epochs (by full, adopted)" in proc.stdout
    assert "trained by run full (supernet_from)" in (workdir / "argmax" / "report.html").read_text()
    runs = [workdir / "full", workdir / "argmax"]
    histories = [json.loads((run / "history.json").read_text()) for run in runs]
    assert histories[0] == histories[1]  # the supernet was adopted, not trained again
    config = yaml.safe_load((workdir / "argmax" / "config.yaml").read_text())
    assert config["supernet_from"] == "full"


def test_bad_genotype_and_checkpoint(workdir: Path):
    record = {"space": {"name": "darts"}, "architecture": "Genotype(normal=[('sep_conv_3x3', 0)"}
    (workdir / "geno.json").write_text(json.dumps(record))
    proc = nasforge("train", "geno.json", cwd=workdir, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    # A checkpoint whose alpha does not fit the configured supernet.
    bad = workdir / "badckpt"
    nasforge("search", "pt.yaml", "--out", str(bad), "--set", "strategy.epochs=1",
             "--set", "selection={name: argmax}", cwd=workdir)
    config = yaml.safe_load((bad / "config.yaml").read_text())
    config["space"] = {"name": "darts", "C": 2, "layers": 3}
    del config["evaluator"]
    (bad / "config.yaml").write_text(yaml.safe_dump(config))
    with sqlite3.connect(bad / "trials.sqlite") as db:  # as if stopped (a finished run is
        db.execute("UPDATE meta SET value='\"interrupted\"' WHERE name='status'")  # not resumed)
    proc = nasforge("search", "--resume", str(bad), cwd=workdir, check=False)
    assert proc.returncode == 2 and "shape" in proc.stderr and "Traceback" not in proc.stderr, \
        proc.stderr
