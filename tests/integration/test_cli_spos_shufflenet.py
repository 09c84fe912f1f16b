"""SPOS on the ShuffleNet space through the command line: block, channel and bit-width search
under FLOPs and BitOps limits on tiny MNIST-1D, a latency lookup table, retraining the winner,
and bad input. (Kill-and-resume of SPOS runs is covered on NB201 in test_cli_spos.py: the
same code path.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import nasforge, one_line_error

from nasforge.run.store import TrialStore
from nasforge.spaces.shufflenet.space import ShuffleNetSpace
from nasforge.task import Shape

# One-shot searches train at least one epoch: one step of it, enough for these tests.
ONE_STEP = ("--set", "strategy.epochs=1", "--set", "strategy.max_batches=1")

TINY = """\
seed: 0
space: {name: shufflenet, width_mult: 0.25, repeats: [1, 1, 1, 1],
        channel_scales: [0.5, 1.0, 2.0], bits: [4, 32]}
task: {name: mnist1d, num_samples: 1000, train_size: 300, valid_fraction: 0.5, batch_size: 50}
strategy: {name: spos, epochs: 2, lr: 0.1}
selection: {name: evolution, recalibration_batches: 2,
            strategy: {name: spos_evolution, population: 6, generations: 2, top_k: 2,
                       mutation: 2, crossover: 2,
                       constraints: {max_flops: 2.7e5, max_bitops: 1.6e8}}}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spos_shufflenet")
    (path / "shufflenet.yaml").write_text(TINY)
    nasforge("search", "shufflenet.yaml", "--out", "run", cwd=path)
    return path


def test_every_candidate_keeps_the_limits_and_the_winner_retrains(workdir: Path):
    run = workdir / "run"
    for name in ("best.json", "report.html", "plots/best_cell.png", "plots/generations.png",
                 "evolution/plots/accuracy_vs_size.png"):
        assert (run / name).is_file(), name
    best = json.loads((run / "best.json").read_text())
    assert best["flops"] <= 2.7e5
    with TrialStore(run / "evolution" / "trials.sqlite") as store:
        scored = store.trials("ok")
    assert len(scored) == 12 and max(t.result.flops for t in scored) <= 2.7e5
    space = ShuffleNetSpace(width_mult=0.25, repeats=[1, 1, 1, 1],
                            channel_scales=[0.5, 1.0, 2.0], bits=[4, 32])
    assert max(space.bitops(t.arch, Shape((1, 40), 10)) for t in scored) <= 1.6e8
    nasforge("train", str(run / "best.json"), "--epochs", "1", "--out", "model", cwd=workdir)
    assert (workdir / "model" / "model.ts").is_file()


def test_a_latency_table_limits_the_search(workdir: Path):
    entries = {"base": 1.0}
    for i in range(4):
        for op in ("shuffle3", "shuffle5", "shuffle7", "xception"):
            for scale in (0.5, 1.0, 2.0):
                entries[f"b{i:02d}/{op}/{scale:g}"] = scale  # wider = slower
    (workdir / "lut.json").write_text(json.dumps({"entries": entries}))
    limits = "{max_latency_ms: 5, latency_table: lut.json}"
    nasforge("search", "shufflenet.yaml", *ONE_STEP,
             "--set", f"selection.strategy.constraints={limits}", "--out", "lut", cwd=workdir)
    best = json.loads((workdir / "lut" / "best.json").read_text())["architecture"]
    assert 1.0 + sum(best[f"b{i:02d}/width"] for i in range(4)) <= 5


BAD = [
    (["--set", "space.choices=[shuffle3, shuffle9]"], "unknown shufflenet choice"),
    (["--set", "space.bits=[0, 8]"], "bits must be in 1..32"),
    (["--set", "space.channel_scales=[1.0, 1.0]"], "must not repeat"),
    (["--set", "selection.strategy.constraints={max_flops: 10}"], "no architecture satisfies"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_exit_2(args, message, workdir: Path):
    proc = nasforge("search", "shufflenet.yaml", *ONE_STEP, *args, cwd=workdir, check=False)
    one_line_error(proc, message)
