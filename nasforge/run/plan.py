"""One plan for every search, checked in one place and executed by one function.

A search is a ``Plan``: the space, task, evaluator, strategy, selection, runtime, budget,
executor, data-parallel processes and run directory. The CLI builds one from a config file
(``plan_from_config``), ``nasforge.search`` from names or objects (``plan_from_objects``);
both call ``Plan.check`` (every pre-run check of a search, before anything is written) and
``execute``, which picks the loop: ask/tell trials (``run.run_search``) or a one-shot
supernet (``oneshot.run_oneshot``). The front doors only translate their inputs, in the way
Optuna's ``optimize()`` is a thin loop over its public ask/tell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nasforge.config import Budget, RunConfig
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Evaluator
from nasforge.run.components import (
    Components,
    build_components,
    check_oneshot,
    make_executor,
    resolve_device,
)
from nasforge.run.directory import CLI, Advice, SearchResult, check_run_dir, stored_result
from nasforge.run.distributed import (
    SINGLE,
    DistContext,
    check_nproc,
    free_port,
    from_environment,
    runtime_for,
    set_environment,
)
from nasforge.run.executors import Executor
from nasforge.run.loop import run_search
from nasforge.run.oneshot import run_oneshot
from nasforge.run.supernet_reuse import trained_file
from nasforge.runtime import Runtime
from nasforge.selection.base import Selection
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.task import Task
from nasforge.threads import child_environment

CLI_WORDS = {"budget": "budget.trials and/or budget.seconds", "executor": "executor",
             "selection": "the selection section", "supernet_from": "supernet_from",
             "distributed": "distributed.nproc", "evaluator": "an evaluator section"}
PYTHON_WORDS = {"budget": "trials= and/or seconds=", "executor": "workers= and executor=",
                "selection": "selection=", "supernet_from": "supernet_from=",
                "distributed": "distributed=", "evaluator": "an evaluator="}


@dataclass
class Plan:
    """Everything one search needs. ``config`` is set when every component was named (it is
    written to ``config.yaml``, so the run can be resumed and retrained from the CLI, and
    rebuilt in each data-parallel process)."""

    space: SearchSpace
    strategy: AskTellStrategy | OneShotStrategy
    evaluator: Evaluator | None
    task: Task | None
    selection: Selection | None
    runtime: Runtime
    budget: Budget = field(default_factory=Budget)
    seed: int = 0
    executor: Executor | None = None  # ask/tell: where candidates are evaluated
    distributed: int = 1  # one-shot: data-parallel processes
    supernet_from: Path | None = None  # one-shot: start from this run's trained supernet
    config: RunConfig | None = None
    run_dir: Path | None = None
    resume: bool = False
    advice: Advice = CLI

    @property
    def words(self) -> dict[str, str]:
        """Option names in the terms of the front door the plan came through."""
        return CLI_WORDS if self.advice is CLI else PYTHON_WORDS

    @property
    def one_shot(self) -> bool:
        return isinstance(self.strategy, OneShotStrategy)

    def say(self, option: str) -> str:
        """An option as the user wrote it (``budget.trials`` in a config, ``trials=`` in
        Python)."""
        return self.words.get(option, option)

    def check(self, *, main: bool = True) -> Plan:
        """Every check a search makes before it starts, for both front doors: the sections
        each kind of strategy needs and the options it refuses, a feasible constraint, the
        run directory (by the ``main`` process: the other data-parallel replicas follow
        it), the source of a reused supernet, the data-parallel processes and the
        executor."""
        if main and self.run_dir is not None:
            check_run_dir(self.run_dir, resume=self.resume, advice=self.advice)
        if self.one_shot:
            self._check_one_shot()
        else:
            self._check_ask_tell()
        return self

    def _check_one_shot(self) -> None:
        assert isinstance(self.strategy, OneShotStrategy)
        name = self.strategy_name
        if self.budget.trials is not None or self.budget.seconds is not None:
            raise ConfigError(f"a one-shot search runs for its strategy's epochs: drop "
                              f"{self.say('budget')}")
        if self.executor is not None:
            raise ConfigError(f"a one-shot search trains one supernet: drop "
                              f"{self.say('executor')} ({self.say('distributed')} splits its "
                              "batches over processes)")
        self.task, self.selection = check_oneshot(name, self.strategy, self.space, self.task,
                                                  self.selection)
        if self.distributed > 1:
            check_nproc(self.distributed, self.runtime.device)
        if self.supernet_from is not None and not self.resume:
            trained_file(self.supernet_from, self.config)  # a bad source fails now

    def _check_ask_tell(self) -> None:
        assert isinstance(self.strategy, AskTellStrategy)
        name = self.strategy_name
        if self.supernet_from is not None:
            raise ConfigError(f"{self.say('supernet_from')} is for one-shot strategies, not "
                              f"{name!r}")
        if self.distributed > 1:
            raise ConfigError(f"{self.say('distributed')} is for one-shot supernet training; "
                              "an ask/tell search runs candidates in parallel with "
                              f"{self.say('executor')}")
        if self.evaluator is None:
            raise ConfigError(f"strategy {name!r} needs {self.say('evaluator')}")
        if self.selection is not None:
            raise ConfigError(f"strategy {name!r} is not one-shot: drop "
                              f"{self.say('selection')}")
        if self.budget.trials is None and self.budget.seconds is None:
            raise ConfigError(f"strategy {name!r} needs a budget: set {self.say('budget')}")
        self.strategy.check_feasible()
        if self.executor is not None:
            self.executor.check()

    @property
    def strategy_name(self) -> str:
        """The registered name when the config names it, else the class (an object)."""
        if self.config is not None:
            return self.config.strategy.name
        return type(self.strategy).__name__


def plan_from_config(config: RunConfig, run_dir: Path | None, *, resume: bool = False
                     ) -> Plan:
    """The plan of a config file (its components built from the registries)."""
    parts: Components = build_components(config)
    executor = None
    if not isinstance(parts.strategy, OneShotStrategy):
        executor = make_executor(config.executor.to_dict() if config.executor else None)
    return Plan(parts.space, parts.strategy, parts.evaluator, parts.task, parts.selection,
                parts.runtime, budget=config.budget, seed=config.seed, executor=executor,
                distributed=config.distributed,
                supernet_from=None if config.supernet_from is None
                else Path(config.supernet_from),
                config=config, run_dir=run_dir, resume=resume)


def execute(plan: Plan, *, progress: bool | None = None, context: DistContext = SINGLE
            ) -> SearchResult | None:
    """Run a checked plan: one-shot supernet training and selection, or ask/tell trials.
    Returns None on the data-parallel ranks > 0 (only rank 0 writes the run)."""
    if isinstance(plan.strategy, OneShotStrategy):
        assert plan.task is not None and plan.selection is not None  # Plan.check
        return run_oneshot(plan.space, plan.task, plan.strategy, plan.selection,
                           plan.evaluator, device=runtime_for(context, plan.runtime),
                           run_dir=plan.run_dir, resume=plan.resume, config=plan.config,
                           progress=progress, seed=plan.seed, dist=context,
                           supernet_from=plan.supernet_from, advice=plan.advice)
    assert plan.evaluator is not None  # Plan.check
    return run_search(plan.space, plan.evaluator, plan.strategy, budget=plan.budget,
                      run_dir=plan.run_dir, resume=plan.resume, config=plan.config,
                      progress=progress, executor=plan.executor, advice=plan.advice)


def execute_distributed(plan: Plan, *, progress: bool | None = None) -> SearchResult:
    """Run a checked one-shot plan in ``plan.distributed`` data-parallel processes on this
    machine (as torchrun would); each builds its replica from the run's config, rank 0
    writes the run directory, and the result is read back from it."""
    if plan.config is None:
        raise ConfigError(f"{plan.say('distributed')} needs every component given by name: "
                          "each process builds its own from the run's config")
    if plan.run_dir is None:
        raise ConfigError(f"{plan.say('distributed')} needs a run directory: the processes "
                          "write one")
    import torch.multiprocessing as mp

    with child_environment(replica_threads(plan.distributed)):  # before each replica's torch
        mp.start_processes(_replica, args=(plan.distributed, free_port(), plan.config,
                                           plan.run_dir, plan.resume, plan.advice, progress),
                           nprocs=plan.distributed, start_method="spawn")
    return stored_result(plan.run_dir)


def replica_threads(world: int) -> int:
    """Each replica's share of the machine's cores (instead of oversubscribing them)."""
    return max(1, (os.cpu_count() or 1) // world)


def _replica(rank: int, world: int, port: int, config: RunConfig, run_dir: Path,
             resume: bool, advice: Advice, progress: bool | None) -> None:
    import torch

    set_environment(rank, world, port)
    torch.set_num_threads(replica_threads(world))
    context = from_environment(resolve_device(config.device))
    plan = plan_from_config(config, run_dir, resume=resume)
    plan.advice = advice
    execute(plan.check(main=context.is_main), progress=progress, context=context)
