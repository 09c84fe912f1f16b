"""The ``lm`` evaluator: truncated-BPTT training lowers perplexity, the reward is Zoph & Le's
c / valid_ppl^2 and is the search signal, a NaN fails the trial, a bad corpus is one clear
error."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nasforge.architecture import Architecture
from nasforge.data.ptb import batchify, split_path
from nasforge.errors import ConfigError, TrialFailed
from nasforge.evaluators.base import OBJECTIVE
from nasforge.evaluators.lm import (
    LanguageModelEvaluator,
    evaluate_lm,
    fit_lm,
    perplexity,
    synthetic_corpus_dir,
)
from nasforge.run.executors import evaluate_safely
from nasforge.spaces.nb201 import NB201Space
from nasforge.spaces.rnn_cell import RnnCellSpace
from nasforge.task import Shape

# an LSTM-like tree: additive leaves squashed by tanh / sigmoid, memory added in
CELL = "0:add/tanh 1:add/sigmoid 2:elem_mult/tanh inject:add/tanh c_t:0 c_prev:1"
TINY = {"synthetic_words": 3000, "synthetic_vocab": 10, "bptt": 10, "batch_size": 10,
        "epochs": 1, "max_batches": 8}


def make(tmp_path: Path, space: RnnCellSpace | None = None, **options) -> LanguageModelEvaluator:
    return LanguageModelEvaluator(space or RnnCellSpace(base=2, hidden=16),
                                  cache_dir=str(tmp_path), **{**TINY, **options})


def test_training_lowers_perplexity(tmp_path: Path):
    evaluator = make(tmp_path, epochs=2, max_batches=None, lr=5.0)
    space = evaluator.space
    torch.manual_seed(0)
    model = space.build(space.parse(CELL), evaluator.shape)
    valid = batchify(evaluator.corpus.valid, 10)
    before = perplexity(evaluate_lm(model, valid, 10, torch.device("cpu")))
    history = fit_lm(model, evaluator.corpus, evaluator.settings, torch.device("cpu"))
    after = perplexity(evaluate_lm(model, valid, 10, torch.device("cpu")))
    assert after < 0.8 * before and after == pytest.approx(perplexity(history.best_valid_loss))


def test_result_reward_is_the_objective_and_deterministic(tmp_path: Path):
    arch = RnnCellSpace(base=2).parse(CELL)
    first = make(tmp_path).evaluate(arch)
    second = make(tmp_path).evaluate(arch)
    metrics = first.metrics
    assert first.ok and metrics == second.metrics
    assert metrics["reward"] == pytest.approx(80.0 ** 2 / metrics["valid_ppl"] ** 2)
    assert first.objective == metrics["reward"] == metrics[OBJECTIVE]
    assert math.isfinite(metrics["test_ppl"]) and first.params and first.flops


def test_reward_constant(tmp_path: Path):
    evaluator = make(tmp_path, reward_c=80.0)
    assert evaluator.reward(4.0) == 5.0 and evaluator.reward(math.inf) == 0.0


class NaNSpace(RnnCellSpace):
    """Cells whose input weights are NaN: the first loss is NaN."""

    def build(self, arch: Architecture, shape: Shape) -> torch.nn.Module:
        model = super().build(arch, shape)
        with torch.no_grad():
            model.rnns[0].cell.w.weight.fill_(math.nan)  # type: ignore[index, union-attr]
        return model


def test_a_nan_loss_fails_the_trial(tmp_path: Path):
    evaluator = make(tmp_path, NaNSpace(base=2, hidden=8))
    arch = evaluator.space.parse(CELL)
    with pytest.raises(TrialFailed, match="non-finite"):
        evaluator.evaluate(arch)
    result = evaluate_safely(evaluator, arch)
    assert result.status == "failed" and "non-finite" in (result.error or "")
    assert result.objective == -math.inf


def write_ptb(directory: Path, train: str, other: str = "a b\n") -> Path:
    directory.mkdir()
    split_path(directory, "train").write_text(train)
    split_path(directory, "valid").write_text(other)
    split_path(directory, "test").write_text(other)
    return directory


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"), ("empty", "empty corpus"), ("short", "shorter than batch_size"),
])
def test_a_bad_corpus_is_one_clear_error(tmp_path: Path, case: str, message: str):
    directory = tmp_path / case
    if case == "empty":
        write_ptb(directory, "   \n\n")
    elif case == "short":
        write_ptb(directory, "a b <unk>\n")
    with pytest.raises(ConfigError, match=message) as info:
        evaluator = make(tmp_path, data_dir=str(directory))
        evaluator.evaluate(evaluator.space.parse(CELL))
    assert "\n" not in str(info.value)


def test_a_real_format_directory_is_read(tmp_path: Path):
    text = "the cat sat on the mat <unk>\n" * 60
    evaluator = make(tmp_path, data_dir=str(write_ptb(tmp_path / "ptb", text, text)))
    assert evaluator.corpus.vocab_size == 7  # the, cat, sat, on, mat, <unk>, <eos>
    assert evaluator.evaluate(evaluator.space.parse(CELL)).ok


def test_the_synthetic_corpus_is_written_once(tmp_path: Path):
    first = synthetic_corpus_dir(tmp_path, 2000, 10, 0)
    stamp = split_path(first, "train").stat().st_mtime_ns
    assert synthetic_corpus_dir(tmp_path, 2000, 10, 0) == first
    assert split_path(first, "train").stat().st_mtime_ns == stamp
    assert synthetic_corpus_dir(tmp_path, 2000, 10, 1) != first
    assert not list(tmp_path.glob(".writing-*"))


def test_bad_settings_and_spaces(tmp_path: Path):
    with pytest.raises(ConfigError, match="rnn_cell"):
        LanguageModelEvaluator(NB201Space(), cache_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="epochs"):
        make(tmp_path, epochs=0)
    with pytest.raises(ConfigError, match="reward"):
        make(tmp_path, reward="accuracy")


def test_retrain_saves_the_model(tmp_path: Path):
    evaluator = make(tmp_path)
    arch = evaluator.space.parse(CELL)
    record = evaluator.retrain(arch, 2, tmp_path / "out")
    assert record["epochs"] == 2 and record["valid_ppl"] > 1 and record["arch_str"] == CELL
    saved = torch.load(tmp_path / "out" / "model.pt", weights_only=False)
    model = evaluator.space.build(arch, evaluator.shape)
    model.load_state_dict(saved["state_dict"])
    assert saved["vocab"] == evaluator.corpus.vocab
    assert saved["num_classes"] == evaluator.shape.num_classes == len(saved["vocab"])
    assert (tmp_path / "out" / "retrain.json").is_file()
