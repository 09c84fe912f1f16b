"""Evolutionary selection with inherited weights: the search step of SPOS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.architecture import Architecture
from nasforge.config import Budget, Component
from nasforge.errors import ConfigError
from nasforge.evaluators.supernet import SupernetEvaluator
from nasforge.registry import SELECTIONS
from nasforge.run.store import best_trial
from nasforge.selection.base import InnerSearch, Selection, SelectionContext
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.task import Task

if TYPE_CHECKING:
    from nasforge.report.figure import Plot

SUBDIR = "evolution"


@SELECTIONS.register("evolution")
class EvolutionSelection(Selection):
    """Searches the trained supernet with an ask/tell strategy (SPOS's evolution by default,
    Guo et al., ECCV 2020, Sec. 3.5), each candidate scored with inherited weights after
    batch-norm recalibration (nasforge.evaluators.supernet), under the strategy's
    constraints; returns the best candidate ever scored.

    The search is an ordinary run in ``<run>/evolution/`` (its own trial store, report and
    Pareto plot), so a kill during the search resumes it exactly, nothing scored twice.
    ``strategy``: the strategy's config (default ``{name: spos_evolution}``: population 50,
    20 generations, ...; ``constraints`` go there). ``trials`` caps the evaluations (default:
    population x generations for spos_evolution).
    """

    def __init__(self, strategy: dict[str, Any] | None = None, recalibration_batches: int = 20,
                 valid_batches: int | None = None, trials: int | None = None,
                 inner_search: InnerSearch | None = None) -> None:
        options = dict(strategy or {})
        self.strategy = Component(str(options.pop("name", "spos_evolution")), options)
        if inner_search is None:
            raise ConfigError("the evolution selection runs a search: build it through "
                              "nasforge.run.components (which gives it one)")
        self.inner_search = inner_search
        inner_search.check_strategy(self.strategy, "selection.strategy")
        self.recalibration_batches, self.valid_batches = recalibration_batches, valid_batches
        self.trials = trials
        self.history: list[dict[str, float]] = []

    def _make_strategy(self, space: SearchSpace, task: Task, seed: int) -> AskTellStrategy:
        return self.inner_search.make_strategy(self.strategy, space, task, seed)

    def check(self, space: SearchSpace, task: Task, strategy: Any = None) -> None:
        strategy = self._make_strategy(space, task, 0)
        strategy.check_feasible()
        self._budget(strategy)

    def select(self, ctx: SelectionContext) -> Architecture:
        if ctx.space is None:
            raise ConfigError("the evolution selection needs the run's search space")
        seed = int(ctx.rng.integers(2**31))
        strategy = self._make_strategy(ctx.space, ctx.task, seed)
        evaluator = SupernetEvaluator(ctx.supernet, ctx.space, ctx.task, ctx.runtime,
                                      self.recalibration_batches, self.valid_batches, seed)
        run_dir = ctx.run_dir / SUBDIR if ctx.run_dir is not None else None
        trials = self.inner_search.run(ctx.space, evaluator, strategy,
                                       budget=self._budget(strategy), run_dir=run_dir,
                                       progress=ctx.progress, label="evolution on the supernet")
        best = best_trial(trials)
        if best is None:
            raise ConfigError("the evolutionary search scored no candidate")
        for trial in trials:
            ctx.scores.append({"step": "evolution", "trial": trial.id,
                               "arch": ctx.space.format(trial.arch),
                               "valid_acc": trial.result.metrics.get("valid_acc"),
                               "params": trial.result.params, "flops": trial.result.flops})
        self.history = list(getattr(strategy, "history", []))
        # Leave the supernet on the winner's path with its own batch-norm statistics, so an
        # export of the winner inherits the statistics that scored it.
        evaluator.evaluate(best.arch)
        return best.arch

    def _budget(self, strategy: AskTellStrategy) -> Budget:
        if self.trials is not None:
            return Budget(trials=self.trials)
        population, generations = (getattr(strategy, k, None) for k in
                                   ("population", "generations"))
        if isinstance(population, int) and isinstance(generations, int):
            return Budget(trials=population * generations)
        raise ConfigError(f"selection.trials is needed with strategy {self.strategy.name!r}")

    def report_plots(self, run_dir: Path) -> list[Plot]:
        from nasforge.report.figure import Plot
        from nasforge.report.oneshot import plot_generations

        out = run_dir / "plots" / "generations.png"
        plots = []
        if plot_generations(self.history, out):
            plots.append(Plot("plots/generations.png", "Evolution: score per generation"))
        for name, title in (("accuracy_vs_size.png", "Candidates: accuracy vs size, "
                                                     "Pareto front"),
                            ("progress.png", "Evolution: best so far")):
            if (run_dir / SUBDIR / "plots" / name).is_file():
                plots.append(Plot(f"{SUBDIR}/plots/{name}", title))
        return plots

