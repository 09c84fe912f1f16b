"""Train each candidate cell's word-level language model and score its perplexity: the child
training of Zoph & Le's Penn Treebank search (ICLR 2017, Sec. 4.2), registered as ``lm``."""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.data.ptb import Corpus, batchify, bptt_batches, load_ptb, write_synthetic_corpus
from nasforge.errors import ConfigError, TrialFailed
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result
from nasforge.evaluators.train import trial_seed
from nasforge.nn.rnn_cell import detach_state
from nasforge.progress import Progress
from nasforge.registry import EVALUATORS
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.rnn_cell import RnnCellSpace, TokenShape, token_shape
from nasforge.training import seeded

log = logging.getLogger(__name__)

Reward = Literal["inverse_square"]
PAPER_C = 80.0  # Zoph & Le: reward c / valid_ppl^2, "c is a constant, usually set at 80"
MAX_LOG_PPL = 700.0  # exp() of more overflows a float


@dataclass(frozen=True)
class LMSettings:
    """Truncated-BPTT training with plain SGD and gradient-norm clipping (Zaremba et al.
    2014, the recipe of the paper's PTB children). After an epoch whose validation loss did
    not improve, the learning rate is divided by ``lr_decay``."""

    bptt: int = 35
    batch_size: int = 10
    eval_batch_size: int = 10
    epochs: int = 4
    lr: float = 5.0
    lr_decay: float = 4.0
    grad_clip: float | None = 0.5
    max_batches: int | None = None  # training windows per epoch (tests)
    max_eval_batches: int | None = None


@dataclass
class LMHistory:
    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best_valid_loss(self) -> float:
        return min(self.valid_loss)


def perplexity(loss: float) -> float:
    """exp(mean negative log-likelihood per token); inf when it overflows or is not finite."""
    return math.exp(loss) if math.isfinite(loss) and loss < MAX_LOG_PPL else math.inf


def evaluate_lm(model: nn.Module, data: torch.Tensor, bptt: int, device: torch.device,
                max_batches: int | None = None) -> float:
    """The mean loss per token of ``data`` (``(steps, batch)`` from batchify), the hidden
    state carried from window to window as in training."""
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for i, (inputs, targets) in enumerate(bptt_batches(data, bptt)):
            if max_batches is not None and i >= max_batches:
                break
            logits, state = model(inputs.to(device), state)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1),
                                               targets.to(device).flatten(), reduction="sum")
            total, count = total + float(loss), count + targets.numel()
    return total / max(count, 1)


def train_epoch_lm(model: nn.Module, data: torch.Tensor, optimizer: torch.optim.Optimizer,
                   settings: LMSettings, device: torch.device) -> float:
    """One truncated-BPTT pass; the hidden state is carried across windows and detached.
    A non-finite loss raises TrialFailed (a diverging cell fails, the search goes on)."""
    model.train()
    total, count, state = 0.0, 0, None
    for i, (inputs, targets) in enumerate(bptt_batches(data, settings.bptt)):
        if settings.max_batches is not None and i >= settings.max_batches:
            break
        state = detach_state(state)
        logits, state = model(inputs.to(device), state)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten())
        if not torch.isfinite(loss):
            raise TrialFailed(f"non-finite training loss ({loss.item()}) at window {i}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        total, count = total + loss.item(), count + 1
    return total / max(count, 1)


def fit_lm(model: nn.Module, corpus: Corpus, settings: LMSettings,
           device: torch.device, progress: bool | None = False) -> LMHistory:
    """Train for ``settings.epochs``; the model ends with its best-validation weights.
    A non-finite validation loss raises TrialFailed."""
    start = time.perf_counter()
    model.to(device)
    train = batchify(corpus.train, settings.batch_size)
    valid = batchify(corpus.valid, settings.eval_batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    history, best_state = LMHistory(), None
    with Progress("train", settings.epochs, unit="epoch", progress=progress) as bar:
        for epoch in range(settings.epochs):
            history.lr.append(optimizer.param_groups[0]["lr"])
            history.train_loss.append(train_epoch_lm(model, train, optimizer, settings, device))
            valid_loss = evaluate_lm(model, valid, settings.bptt, device,
                                     settings.max_eval_batches)
            if not math.isfinite(valid_loss):
                raise TrialFailed(f"non-finite validation loss after epoch {epoch + 1}")
            if best_state is None or valid_loss < history.best_valid_loss:
                best_state = copy.deepcopy(model.state_dict())
            else:  # annealing: no improvement -> a smaller step
                for group in optimizer.param_groups:
                    group["lr"] /= settings.lr_decay
            history.valid_loss.append(valid_loss)
            bar.advance(1, f"epoch {epoch + 1}: valid_ppl {perplexity(valid_loss):.2f}")
    assert best_state is not None
    model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history


# --- the corpus ------------------------------------------------------------------------------


def synthetic_corpus_dir(cache_dir: str | Path | None, words: int, vocab: int,
                         seed: int) -> Path:
    """The synthetic corpus of these arguments, written once (atomically, so parallel
    workers may race) under ``cache_dir`` (default: the system's temporary directory)."""
    root = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "nasforge-ptb"
    target = root / f"synthetic-w{words}-v{vocab}-s{seed}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".writing-"))
    held_out = max(words // 10, 500)
    write_synthetic_corpus(scratch, n_train_words=words, n_valid_words=held_out,
                           n_test_words=held_out, vocab_size=vocab, seed=seed)
    try:
        os.replace(scratch, target)
    except OSError:  # another process wrote it first: same arguments, same files
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def load_corpus(data_dir: str | None, cache_dir: str | None, words: int, vocab: int,
                seed: int) -> Corpus:
    """``data_dir`` (ptb.{train,valid,test}.txt) when given, else the synthetic corpus.
    A missing, empty or malformed corpus raises ConfigError (one line in the CLI)."""
    if data_dir is not None:
        return load_ptb(data_dir)
    return load_ptb(synthetic_corpus_dir(cache_dir, words, vocab, seed))


# --- the evaluator ---------------------------------------------------------------------------


@EVALUATORS.register("lm")
class LanguageModelEvaluator(Evaluator):
    """Trains the cell's language model from scratch (``LMSettings``) and reports
    ``valid_ppl``, ``test_ppl`` and the reward, which is the search signal (``Result.
    objective``): Zoph & Le's c / valid_ppl^2 (Sec. 4.2, ``reward: inverse_square``).
    Note: the paper's c is 80 ("usually set at 80"); ``reward_c`` defaults to 80^2 so that
    a perplexity of 80 scores 1 and the controller's rewards are of order one (a constant
    factor only rescales the REINFORCE step). Search with ``strategy: {reward: raw,
    reward_metric: reward}``. Corpus: ``data_dir`` (PTB format) or, without it, a seeded
    synthetic corpus (``synthetic_words``, ``synthetic_vocab``, ``synthetic_seed``) written
    once under ``cache_dir``. ``cost`` is the measured wall time in seconds."""

    def __init__(self, space: SearchSpace, seed: int = 0, device: torch.device | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None,
                 synthetic_words: int = 20000, synthetic_vocab: int = 20,
                 synthetic_seed: int = 0, bptt: int = 35, batch_size: int = 10,
                 eval_batch_size: int = 10, epochs: int = 4, lr: float = 5.0,
                 lr_decay: float = 4.0, grad_clip: float | None = 0.5,
                 max_batches: int | None = None, max_eval_batches: int | None = None,
                 reward: Reward = "inverse_square", reward_c: float = PAPER_C ** 2,
                 report_test: bool = True) -> None:
        if not isinstance(space, RnnCellSpace):
            raise ConfigError(f"the lm evaluator trains language models of the rnn_cell "
                              f"space, not {space.name!r}")
        _check_settings(epochs=epochs, bptt=bptt, batch_size=batch_size,
                        eval_batch_size=eval_batch_size, lr=lr, lr_decay=lr_decay,
                        reward_c=reward_c)
        if reward != "inverse_square":
            raise ConfigError(f"evaluator.reward must be 'inverse_square', got {reward!r}")
        self.space, self.seed = space, seed
        self.device = device or torch.device("cpu")
        self.settings = LMSettings(bptt, batch_size, eval_batch_size, epochs, lr, lr_decay,
                                   grad_clip, max_batches, max_eval_batches)
        self.reward_c, self.report_test = reward_c, report_test
        self.data_dir = data_dir
        self.corpus = load_corpus(data_dir, cache_dir, synthetic_words, synthetic_vocab,
                                  synthetic_seed)
        self.shape: TokenShape = token_shape(self.corpus.vocab_size, bptt)

    def reward(self, valid_ppl: float) -> float:
        """Zoph & Le's reward c / valid_ppl^2 (0 for an infinite perplexity)."""
        return self.reward_c / valid_ppl ** 2

    def evaluate(self, arch: Architecture) -> Result:
        start = time.perf_counter()
        seed = trial_seed(self.seed, arch)
        with seeded(seed):  # weights and dropout masks: same arch, same run seed -> same model
            model = self.space.build(arch, self.shape)
            metrics = self.train_and_score(model, self.settings)
            cost = self.space.cost(arch, self.shape)  # builds a copy: keep the global RNG
        metrics[OBJECTIVE] = metrics["reward"]  # the search signal every strategy maximises
        return Result(metrics=metrics, cost=time.perf_counter() - start,
                      params=cost.params, flops=cost.flops)

    def train_and_score(self, model: nn.Module, settings: LMSettings,
                        progress: bool | None = False) -> dict[str, float]:
        """Train ``model`` (a cell's LM or the LSTM baseline) and return its metrics."""
        history = fit_lm(model, self.corpus, settings, self.device, progress)
        valid_ppl = perplexity(history.best_valid_loss)
        metrics = {"valid_ppl": valid_ppl, "reward": self.reward(valid_ppl),
                   "train_ppl": perplexity(history.train_loss[-1])}
        if self.report_test:
            test = batchify(self.corpus.test, settings.eval_batch_size)
            metrics["test_ppl"] = perplexity(evaluate_lm(model, test, settings.bptt,
                                                         self.device))
        return metrics

    def retrain(self, arch: Architecture, epochs: int | None, out: Path,
                progress: bool | None = False) -> dict[str, Any]:
        """``nasforge train``: train ``arch`` from scratch for ``epochs`` (default: 3x the
        search's), save ``model.pt`` (state_dict, space, architecture, vocabulary) and
        ``retrain.json`` into ``out``; return the record."""
        if epochs is not None and epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {epochs}")
        settings = LMSettings(**{**asdict(self.settings),
                                 "epochs": epochs or 3 * self.settings.epochs})
        with seeded(self.seed):
            model = self.space.build(arch, self.shape)
            metrics = self.train_and_score(model, settings, progress)
            params = self.space.cost(arch, self.shape).params
        out.mkdir(parents=True, exist_ok=True)
        record = {"space": {"name": self.space.name, **self.space.options()},
                  "architecture": arch.to_dict(), "arch_str": self.space.format(arch),
                  "evaluator": self.describe(), **metrics, "epochs": settings.epochs,
                  "params": params,
                  "model": str(out / "model.pt")}
        model.cpu()
        torch.save({"state_dict": model.state_dict(), "space": record["space"],
                    "architecture": record["architecture"], "vocab": self.corpus.vocab,
                    "num_classes": self.shape.num_classes,  # the vocabulary size
                    "input_shape": list(self.shape.input_shape)},
                   out / "model.pt")
        (out / "retrain.json").write_text(json.dumps(record, indent=2) + "\n")
        return record

    def describe(self) -> dict[str, Any]:
        return {"evaluator": "lm", "data_dir": self.data_dir,
                "vocab_size": self.corpus.vocab_size, "reward_c": self.reward_c,
                **asdict(self.settings)}


def _check_settings(**values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(f"evaluator.{key} must be positive, got {value}")
