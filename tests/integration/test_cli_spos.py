"""SPOS through the command line: supernet training, then the constrained evolution with
inherited weights; kill -9 in either phase, resume, same answer; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_helpers import kill_when, nasforge, one_line_error

from nasforge.run.store import Trial, TrialStore

# One-shot searches train at least one epoch: one step of it, enough for these tests.
ONE_STEP = ("--set", "strategy.epochs=1", "--set", "strategy.max_batches=1")

TINY = """\
seed: 0
space: {name: nb201, C: 4, N: 1}
task: {name: mnist1d, num_samples: 1000, train_size: 300, valid_fraction: 0.5, batch_size: 50}
strategy: {name: spos, epochs: 3, lr: 0.1}
selection: {name: evolution, recalibration_batches: 2,
            strategy: {name: spos_evolution, population: 8, generations: 4, top_k: 3,
                       mutation: 3, crossover: 3, constraints: {max_flops: 2.0e7}}}
evaluator: {name: table}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spos")
    (path / "spos.yaml").write_text(TINY)
    nasforge("search", "spos.yaml", "--out", "full", cwd=path)
    return path


def trials(run: Path) -> list[Trial]:
    path = run / "evolution" / "trials.sqlite"
    if not path.is_file():
        return []
    with TrialStore(path) as store:
        return store.trials("ok")


def scored(run: Path) -> list[tuple[str, float]]:
    return [(t.key, t.result.metrics["valid_acc"]) for t in trials(run)]


def test_outputs_and_the_constraint(workdir: Path):
    run = workdir / "full"
    for name in ("best.json", "report.html", "plots/generations.png", "checkpoint.pt",
                 "evolution/trials.sqlite", "evolution/plots/accuracy_vs_size.png"):
        assert (run / name).is_file(), name
    best = json.loads((run / "best.json").read_text())
    assert best["flops"] <= 2.0e7 and "test_acc" in best["metrics"]
    assert len(scored(run)) == 8 * 4
    assert max(t.result.flops for t in trials(run)) <= 2.0e7  # every scored candidate
    nasforge("train", str(run / "best.json"), "--epochs", "1", "--out", "model", cwd=workdir)
    assert (workdir / "model" / "model.ts").is_file()


def test_one_flops_count_and_no_op_weight_heatmap(workdir: Path):
    """best.json counts the winner's FLOPs as the constrained evolution did (the network on
    the task's input), not the NB201 table's CIFAR-10 network; SPOS learns no op weights."""
    run = workdir / "full"
    best = json.loads((run / "best.json").read_text())
    same = [t for t in trials(run) if t.key == best["key"]]
    assert same and (best["flops"], best["params"]) == (same[0].result.flops,
                                                        same[0].result.params)
    assert not (run / "plots" / "alpha.png").exists()
    html = (run / "report.html").read_text()
    assert "softmax(alpha)" not in html and "SPOS: the best" in html


def in_training(run: Path) -> bool:
    if not (run / "checkpoint.pt").is_file():
        return False
    return torch.load(run / "checkpoint.pt", weights_only=False)["state"].epoch >= 1


def in_evolution(run: Path) -> bool:
    return len(scored(run)) >= 12


@pytest.mark.parametrize("ready", [in_training, in_evolution], ids=["training", "evolution"])
def test_kill_9_then_resume_finds_the_same_architecture(workdir: Path, ready):
    run = workdir / ready.__name__
    kill_when("spos.yaml", run, ready, workdir)
    before = scored(run) if (run / "evolution").is_dir() else []
    nasforge("search", "--resume", str(run), cwd=workdir)
    full = json.loads((workdir / "full" / "best.json").read_text())
    resumed = json.loads((run / "best.json").read_text())
    assert resumed["arch_str"] == full["arch_str"]
    after = scored(run)
    assert after[: len(before)] == before and after == scored(workdir / "full")
    assert len({key for key, _ in after}) == len(after)  # nothing evaluated twice


BAD = [
    (["--set", "selection.strategy.constraints={max_flops: 10}"], "no architecture satisfies"),
    (["--set", "selection.strategy.constraints={max_flop: 10}"], "unknown constraint"),
    (["--set", "strategy.sampling=sometimes"], "sampling"),
    (["--set", "selection.strategy.name=darts"], "ask/tell"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path):
    proc = nasforge("search", "spos.yaml", *ONE_STEP, *args, cwd=workdir, check=False)
    one_line_error(proc, message)


def test_a_typo_in_the_nested_strategy_is_caught(workdir: Path):
    proc = nasforge("search", "spos.yaml", "--set", "selection.strategy.populaton=3",
                    cwd=workdir, check=False)
    assert proc.returncode == 2 and "selection.strategy.populaton" in proc.stderr, proc.stderr
