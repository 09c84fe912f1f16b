"""run_oneshot: train a supernet (epoch by epoch), select an architecture (decision by decision),
evaluate the selection, and write the run directory.

Resume is by checkpoint: ``checkpoint.pt`` (written atomically after every epoch and every
selection round) holds the supernet weights, the verbs' masks and fixed edges, the strategy's
optimisers and architecture parameters, and the selection's progress. A killed run continues
from the last checkpoint; at most one epoch or one selection round is redone.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge import interrupts
from nasforge.architecture import Architecture
from nasforge.config import RunConfig
from nasforge.evaluators.base import OBJECTIVE, Evaluator, Result
from nasforge.progress import Progress
from nasforge.report.figure import Plot
from nasforge.run.directory import CLI, Advice, RunDir, SearchResult, require_a_finished_trial
from nasforge.run.distributed import SINGLE, DistContext
from nasforge.run.store import Trial, TrialStore
from nasforge.run.supernet_reuse import keep_trained, trained_file
from nasforge.runtime import Runtime
from nasforge.selection.base import Selection, SelectionContext
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet.base import Supernet
from nasforge.supernet.checkpoint import (
    CHECKPOINT,
    read_checkpoint,
    restore_supernet,
    save_checkpoint,
    supernet_recipe,
)
from nasforge.task import Task
from nasforge.threads import warn_if_contended
from nasforge.training import evaluate, seeded, split_batches

log = logging.getLogger(__name__)


@dataclass
class OneShotState:
    """Progress of a one-shot run (what the checkpoint restores besides the modules)."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)  # op strengths after each epoch
    selection: dict[str, Any] | None = None
    train_seconds: float = 0.0  # wall time of the supernet's epochs (in this or a source run)


def run_oneshot(space: SearchSpace, task: Task, strategy: OneShotStrategy,
                selection: Selection, evaluator: Evaluator | None, *,
                device: Runtime | torch.device,
                run_dir: str | Path | None = None, resume: bool = False,
                config: RunConfig | None = None, progress: bool | None = None,
                seed: int = 0, dist: DistContext = SINGLE,
                supernet_from: str | Path | None = None,
                advice: Advice = CLI) -> SearchResult | None:
    """Train, select, evaluate. In a data-parallel group (``dist``) every rank trains its
    replica; only rank 0 writes the run directory, selects and evaluates (the others return
    None once the supernet is trained). ``supernet_from``: a run directory whose trained
    supernet this run starts from instead of training one (``nasforge.run.supernet_reuse``)."""
    warn_if_contended()  # shared cores + OpenMP spin-waiting: see nasforge.threads
    runtime = Runtime.of(device)
    runtime.activate()
    path = Path(run_dir) if run_dir is not None else None
    with RunDir(path if dist.is_main else None, resume=resume, advice=advice) as run:
        with run.running(space=space, evaluator=evaluator, config=config) as store:
            done = _run(space, task, strategy, selection, evaluator, runtime, path,
                        run.resume, progress, seed, dist, store, _Source(supernet_from, config))
            if done is not None:
                require_a_finished_trial(done.result)  # else the run ends "failed"
        if done is None:
            return None
        if run.path is not None:
            with interrupts.deferred():  # drawing plots: an interrupt waits until it is done
                _write_extras(run.path, done)
                run.write_outputs(space, done.result, done.plots)
    return done.result


@dataclass
class _Source:
    """Where the supernet comes from when this run does not train it."""

    run_dir: str | Path | None
    config: RunConfig | None


@dataclass
class _Done:
    """What a finished one-shot run writes besides its store."""

    result: SearchResult
    state: OneShotState
    scores: list[dict[str, Any]]
    plots: list[Plot]


def _run(space: SearchSpace, task: Task, strategy: OneShotStrategy, selection: Selection,
         evaluator: Evaluator | None, runtime: Runtime, path: Path | None, resume: bool,
         progress: bool | None, seed: int, dist: DistContext, store: TrialStore,
         source: _Source) -> _Done | None:
    supernet = _built(strategy, task, runtime, seed, dist)
    state = OneShotState()
    if path is not None and resume and (path / CHECKPOINT).is_file():
        state = _load(path / CHECKPOINT, supernet, strategy)
    elif source.run_dir is not None:
        state = _load(trained_file(source.run_dir, source.config), supernet, strategy)
        state.selection = None
        store.set_meta("supernet_from", str(source.run_dir))
    show = progress if dist.is_main else False  # rank 0 speaks for the group
    _fit(strategy, supernet, state, path if dist.is_main else None, show)
    if not dist.is_main:
        return None
    if path is not None and state.selection is None:  # trained, nothing selected yet
        _save(path, supernet, strategy, state)
        keep_trained(path)
    store.set_meta("supernet_seconds", state.train_seconds)
    strategy.set_distributed(SINGLE)  # selection (and its fine-tuning) on rank 0 alone
    arch, scores = _select(space, task, strategy, selection, supernet, state, path, runtime,
                           show, seed)
    trials = _store_selection(store, space, arch, lambda: _evaluate(
        evaluator, space, supernet, arch, task, runtime, show))
    store.set_meta("epochs", state.history)
    with interrupts.deferred():  # drawing plots: an interrupt waits until it is done
        plots = selection.report_plots(path) if path is not None else []
        plots += _strengths_plot(path, strategy, supernet, state)
    result = SearchResult(trials, trials[-1], trials[-1].result.cost, path)
    return _Done(result, state, scores, plots)


def train_supernet(strategy: OneShotStrategy, task: Task, *, device: Runtime | torch.device,
                   seed: int = 0, progress: bool | None = None
                   ) -> tuple[Supernet, list[dict[str, float]]]:
    """The supernet a one-shot run with ``seed`` trains, trained by the run's own loop for the
    strategy's epochs, outside any run directory (no checkpoint, no selection): for
    benchmarks that study one trained supernet several ways. Also returns the per-epoch
    metrics."""
    supernet = _built(strategy, task, Runtime.of(device), seed, SINGLE)
    state = OneShotState()
    _fit(strategy, supernet, state, None, progress)
    return supernet, state.history


def _built(strategy: OneShotStrategy, task: Task, runtime: Runtime, seed: int,
           dist: DistContext) -> Supernet:
    with seeded(seed):  # the same seed builds the same supernet (resume relies on it too)
        supernet = strategy.make_supernet(task.shape)
    runtime.place(supernet)
    strategy.set_distributed(dist)
    strategy.setup(supernet, task, runtime)
    return supernet


def _store_selection(store: TrialStore, space: SearchSpace, arch: Architecture,
                     evaluate: Callable[[], Result]) -> list[Trial]:
    """The selection as the run's one trial, stored as an ask/tell trial is: started, then
    finished with its result. A trial left running by a killed run is evaluated again; one
    already finished is kept (nothing evaluated twice)."""
    store.discard_running()
    if not store.trials():
        trial_id = store.start(arch, space.key(arch))
        store.finish(trial_id, evaluate())
    return store.trials()


def _fit(strategy: OneShotStrategy, supernet: Supernet, state: OneShotState,
         path: Path | None, show: bool | None) -> None:
    with Progress("supernet", strategy.epochs, initial=state.epoch, unit="epoch",
                  progress=show) as bar:
        for epoch in range(state.epoch, strategy.epochs):
            start = time.perf_counter()
            metrics = strategy.train_epoch(epoch)
            state.train_seconds += time.perf_counter() - start
            state.history.append({"epoch": epoch + 1, **metrics})
            state.weights.append(strategy.op_strengths().detach().cpu().numpy())
            state.epoch = epoch + 1
            if path is not None:
                _save(path, supernet, strategy, state)
            bar.advance(1, f"epoch {epoch + 1}: " +
                        " ".join(f"{k} {v:.3g}" for k, v in metrics.items()))


def _select(space: SearchSpace, task: Task, strategy: OneShotStrategy, selection: Selection,
            supernet: Supernet, state: OneShotState, path: Path | None,
            runtime: Runtime, show: bool | None, seed: int
            ) -> tuple[Architecture, list[Any]]:
    rng = np.random.default_rng(seed)
    saved = state.selection
    if saved is not None:
        rng.bit_generator.state = saved["rng"]

    def save(progress_state: dict[str, Any]) -> None:
        state.selection = {**progress_state, "rng": rng.bit_generator.state}
        if path is not None:
            _save(path, supernet, strategy, state)

    ctx = SelectionContext(supernet, strategy, task, runtime, rng, save=save, state=saved,
                           progress=show, space=space, run_dir=path)
    arch = selection.select(ctx)
    return space.validate(arch), ctx.scores


def _evaluate(evaluator: Evaluator | None, space: SearchSpace, supernet: Supernet,
              arch: Architecture, task: Task, runtime: Runtime, show: bool | None
              ) -> Result:
    """The configured evaluator's verdict on the selection (e.g. the NB201 table, or
    retraining it from scratch), else the accuracy of the selected path in the supernet."""
    if evaluator is not None:
        evaluator.progress = show
        result = evaluator.evaluate(arch)
        # One FLOPs/params count per run: the network trained here, on the task's input
        # (not, e.g., the NB201 table's CIFAR-10 network), as the selection's constraints count.
        cost = space.cost(arch, task.shape)
        result.params, result.flops = cost.params, cost.flops
        return result
    model = runtime.place(supernet.export(arch))
    valid, _ = evaluate(model, split_batches(task, "valid", runtime))
    test, _ = evaluate(model, split_batches(task, "test", runtime))
    cost = space.cost(arch, task.shape)
    return Result(metrics={OBJECTIVE: valid, "test_acc": test}, params=cost.params,
                  flops=cost.flops)


def _save(path: Path, supernet: Supernet, strategy: OneShotStrategy, state: OneShotState) -> None:
    recipe = supernet_recipe(strategy.gated, strategy.supernet_options())
    save_checkpoint(path, supernet, recipe, {"strategy": strategy.state_dict(), "state": state})


def _load(file: Path, supernet: Supernet, strategy: OneShotStrategy) -> OneShotState:
    data = read_checkpoint(file)
    strategy.load_state_dict(data["strategy"])  # checks the alpha shape first
    restore_supernet(supernet, data, file)
    state: OneShotState = data["state"]
    log.info("starting from %s at epoch %d", file, state.epoch)
    return state


def _write_extras(path: Path, done: _Done) -> None:
    """The one-shot outputs the report reads besides the store: per-epoch history, the op
    strengths after each epoch and every score the selection measured."""
    (path / "history.json").write_text(json.dumps(done.state.history, indent=2) + "\n")
    np.save(path / "op_weights.npy", np.asarray(done.state.weights))
    _write_scores(path / "selection_scores.csv", done.scores)


def _strengths_plot(path: Path | None, strategy: OneShotStrategy, supernet: Supernet,
                    state: OneShotState) -> list[Plot]:
    """The heatmap of the strategy's learned op weights (none for SPOS: it learns none)."""
    from nasforge.report.oneshot import plot_alpha

    caption = strategy.strengths_caption()
    if path is None or caption is None:
        return []
    if plot_alpha(state.weights, supernet.edges, supernet.edge_ops, path / "plots" / "alpha.png"):
        return [Plot("plots/alpha.png", caption)]
    return []


def _write_scores(path: Path, scores: list[dict[str, Any]]) -> None:
    keys = sorted({k for row in scores for k in row})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(scores)
