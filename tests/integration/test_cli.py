"""End to end through the real command line, on tiny real data (MNIST-1D, generated offline)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from cli_helpers import nasforge, nasforge_pty

from nasforge.architecture import Architecture
from nasforge.model.retrain import read_arch_json
from nasforge.task import Shape

TINY = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 1000, train_size: 400, batch_size: 64}
evaluator: {name: train, epochs: 1}
strategy: {name: evolution, population: 3, sample_size: 2}
budget: {trials: 6}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    (path / "tiny.yaml").write_text(TINY)
    return path


@pytest.fixture(scope="module")
def finished_run(workdir: Path) -> Path:
    nasforge("search", "tiny.yaml", "--out", "runs/a", cwd=workdir)
    return workdir / "runs" / "a"


def test_search_writes_a_complete_run_dir(finished_run: Path):
    for name in ("config.yaml", "trials.sqlite", "best.json", "report.html"):
        assert (finished_run / name).is_file(), name
    best = json.loads((finished_run / "best.json").read_text())
    assert best["space"]["name"] == "nb201" and set(best["architecture"]) == {
        "1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"}


def test_runs_show_json_and_list(finished_run: Path, workdir: Path):
    summary = json.loads(nasforge("runs", "show", str(finished_run), "--json", cwd=workdir).stdout)
    assert summary["n_trials"] == 6 and summary["status"] == "finished"
    assert summary["best"]["architecture"] and "valid_acc" in summary["best"]["metrics"]
    listing = nasforge("runs", "list", "runs", cwd=workdir).stdout
    assert "a " in listing and "finished" in listing


def test_train_retrains_the_best_architecture(finished_run: Path, workdir: Path):
    proc = nasforge("train", str(finished_run / "best.json"), "--epochs", "1",
                    "--out", "model", cwd=workdir)
    assert "test_acc" in proc.stdout
    for name in ("model.pt", "model.ts", "retrain.json"):  # it says every file it wrote
        assert f"wrote model/{name}" in proc.stdout and (workdir / "model" / name).is_file()
    record = json.loads((workdir / "model" / "retrain.json").read_text())
    assert record["epochs"] == 1 and 0 <= record["test_acc"] <= 100
    saved = torch.load(workdir / "model" / "model.pt", weights_only=False)
    space, arch = read_arch_json(finished_run / "best.json")  # rebuilt from model.pt alone:
    shape = Shape(tuple(saved["input_shape"]), saved["num_classes"])
    space.build(Architecture(saved["architecture"]), shape).load_state_dict(saved["state_dict"])
    assert saved["architecture"] == arch.to_dict() and saved["num_classes"] == 10


def test_set_seed_changes_the_run(workdir: Path, finished_run: Path):
    nasforge("search", "tiny.yaml", "--set", "seed=1", "--set", "budget.trials=2",
             "--out", "runs/seed1", cwd=workdir)
    config = (workdir / "runs" / "seed1" / "config.yaml").read_text()
    assert "seed: 1" in config and "trials: 2" in config


def archs(run_dir: Path) -> list[str]:
    with sqlite3.connect(run_dir / "trials.sqlite") as db:
        return [r[0] for r in db.execute("SELECT arch FROM trials WHERE status='ok' ORDER BY id")]


def finished_count(run_dir: Path) -> int:
    try:
        return len(archs(run_dir))
    except sqlite3.Error:
        return 0


def test_kill_9_then_resume_equals_an_uninterrupted_run(workdir: Path, finished_run: Path):
    run_dir = workdir / "runs" / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "nasforge", "search", "tiny.yaml", "--out",
                             str(run_dir)], cwd=workdir, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while finished_count(run_dir) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = finished_count(run_dir)
    assert 3 <= done_before < 6, "the run should have been killed mid-search"
    nasforge("search", "--resume", str(run_dir), cwd=workdir)
    assert archs(run_dir) == archs(finished_run)
    summary = json.loads(nasforge("runs", "show", str(run_dir), "--json", cwd=workdir).stdout)
    assert summary["n_trials"] == 6 and summary["n_running"] == 0


def test_ctrl_c_is_interrupted_and_resume_evaluates_nothing_twice(workdir: Path,
                                                                   finished_run: Path):
    """Ctrl-C in a terminal: exit 130, the run stored as interrupted, the command that
    continues it printed; the resumed run is the uninterrupted one."""
    run_dir = workdir / "runs" / "ctrl_c"
    pressed = []

    def ctrl_c(output: str, pid: int) -> None:
        if not pressed and finished_count(run_dir) >= 2:
            os.killpg(pid, signal.SIGINT)  # what the terminal does on Ctrl-C
            pressed.append(finished_count(run_dir))

    status, output = nasforge_pty("search", "tiny.yaml", "--out", str(run_dir), cwd=workdir,
                                  on_tick=ctrl_c)
    assert pressed and status == 130, output
    assert f"continue with: nasforge search --resume {run_dir}" in output
    assert "Traceback" not in output and "Aborted" not in output, output
    summary = json.loads(nasforge("runs", "show", str(run_dir), "--json", cwd=workdir).stdout)
    assert summary["status"] == "interrupted" and 2 <= finished_count(run_dir) < 6
    shown = nasforge("runs", "show", str(run_dir), cwd=workdir).stdout
    assert f"continue  nasforge search --resume {run_dir}" in shown
    nasforge("search", "--resume", str(run_dir), cwd=workdir)
    assert archs(run_dir) == archs(finished_run)  # no trial lost, none evaluated twice
    summary = json.loads(nasforge("runs", "show", str(run_dir), "--json", cwd=workdir).stdout)
    assert summary["status"] == "finished" and summary["n_trials"] == 6


BAD_INPUTS = [
    (["search", "missing.yaml"], "config file not found"),
    (["search", "tiny.yaml", "--set", "strategy.populaton=3"], "strategy.populaton"),
    (["search", "tiny.yaml", "--set", "budget.trials=many"], "budget.trials"),
    (["search", "tiny.yaml", "--set", "budget.trials=0"], "must be positive"),
    (["search", "tiny.yaml", "--set", "budget.seconds=-1"], "must be positive"),
    (["search", "tiny.yaml", "--set", "space.name=nb2010"], "unknown search space"),
    (["search", "tiny.yaml", "--set", "task={name: cifar10, root: nowhere}"], "CIFAR-10"),
    (["search", "tiny.yaml", "--out", "runs/a"], "already holds"),
    (["search", "--resume", "runs/nothing"], "cannot resume"),
    (["train", "bad_arch.json"], "unknown op"),
    (["train", "malformed_arch.json"], "malformed NB201 string"),
    (["search", "table.yaml", "--set", "evaluator.path=missing.csv.gz"], "not found"),
    (["search", "table.yaml", "--set", "evaluator.path=corrupt.csv.gz"], "corrupt"),
    (["search", "tiny.yaml", "--set", "device=cuda:99"],
     "device 'cuda:99' is not available on this machine (available: cpu"),
    (["train", "runs/a/best.json", "--set", "device=cuda:99"], "device 'cuda:99'"),
    (["search", "--resume", "damaged"], "is damaged"),
    (["runs", "show", "damaged"], "is damaged"),
]
if not torch.cuda.is_available():  # the README's CUDA config on a machine without CUDA
    BAD_INPUTS.append((["search", "tiny.yaml", "--set", "device=cuda"],
                       "device 'cuda' is not available on this machine (available: cpu"))


def damage(store: Path) -> None:
    """Keep the SQLite header (the file still opens) but overwrite every later page, as a
    disk error or a copy cut short would."""
    data = bytearray(store.read_bytes())
    data[4096:] = b"\x5a" * (len(data) - 4096)
    store.write_bytes(bytes(data))


def test_runs_list_marks_a_damaged_run_and_lists_the_others(workdir: Path, finished_run: Path):
    root = workdir / "mixed"
    shutil.copytree(finished_run, root / "good")
    shutil.copytree(finished_run, root / "broken")
    damage(root / "broken" / "trials.sqlite")
    listing = nasforge("runs", "list", str(root), cwd=workdir).stdout
    assert re.search(r"good\s+finished\s+evolution\s+\S+ \S+\s+6\s", listing), listing
    assert re.search(r"broken\s+damaged .*is damaged", listing), listing


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path, finished_run: Path):
    record = {"space": {"name": "nb201"}, "architecture":
              "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"}
    (workdir / "bad_arch.json").write_text(json.dumps(record))
    (workdir / "malformed_arch.json").write_text(json.dumps({**record, "architecture": "|x|"}))
    (workdir / "corrupt.csv.gz").write_bytes(b"garbage")
    if not (workdir / "damaged").exists():
        shutil.copytree(finished_run, workdir / "damaged")
        damage(workdir / "damaged" / "trials.sqlite")
    (workdir / "table.yaml").write_text(
        "space: {name: nb201}\nevaluator: {name: table}\nstrategy: {name: random}\n"
        "budget: {trials: 3}\n")
    proc = nasforge(*args, cwd=workdir, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0], lines[0]
