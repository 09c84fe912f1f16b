"""``nasforge search``."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import click

from nasforge.commands.interrupts import interrupts_end_the_run
from nasforge.components import (
    Components,
    build,
    build_components,
    check_config,
    check_oneshot,
    make_executor,
    resolve_device,
)
from nasforge.config import RunConfig, load_config
from nasforge.distributed import (
    DistContext,
    check_nproc,
    free_port,
    from_environment,
    runtime_for,
    set_environment,
)
from nasforge.errors import ConfigError
from nasforge.run import run_search
from nasforge.run_dir import (
    CONFIG_NAME,
    SearchResult,
    check_run_dir,
    make_run_dir,
    outputs_written,
    stored_result,
    stored_status,
)
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet_reuse import trained_file
from nasforge.threads import child_environment


def default_run_dir(config_path: Path) -> Path:
    return Path("runs") / f"{config_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def resolve(config_path: Path | None, overrides: Sequence[str], out: Path | None,
            resume: Path | None, check: bool = True) -> tuple[RunConfig, Path]:
    """The config and run directory of a new run, or of the run to resume (whose stored
    config is used as is, so the resumed run continues exactly the same search)."""
    if resume is not None:
        if overrides or out is not None or config_path is not None:
            given = "CONFIG" if config_path is not None else "--set/--out"
            raise ConfigError(f"--resume continues a run as it was configured: drop {given}")
        if check:
            check_run_dir(resume, resume=True)
        if not (resume / CONFIG_NAME).is_file():
            raise ConfigError(f"{resume} holds no {CONFIG_NAME} (a run started from Python "
                              "with objects): resume it with nasforge.search(..., "
                              f"run_dir={str(resume)!r}, resume=True)")
        return check_config(load_config(resume / CONFIG_NAME)), resume
    if config_path is None:
        raise ConfigError("give a CONFIG file (or --resume RUNDIR)")
    config = check_config(load_config(config_path, overrides))
    run_dir = out or default_run_dir(config_path)
    if check:  # rank 0 of a data-parallel group checks; the others follow it
        check_run_dir(run_dir, resume=False)
    return config, run_dir


def run_search_command(config_path: Path | None, overrides: Sequence[str], out: Path | None,
                       resume: Path | None, progress: bool | None) -> SearchResult | None:
    """Run a search; returns its result (None on the ranks > 0 of a data-parallel group).
    Ctrl-C or SIGTERM stop it as a resumable "interrupted" run: exit status 130 or 143."""
    is_main = int(os.environ.get("RANK", "0")) == 0  # set by torchrun, or by launch() below
    config, run_dir = resolve(config_path, overrides, out, resume, check=is_main)
    context = from_environment(resolve_device(config.device))  # gloo or NCCL, as trained
    if resume is not None and context.is_main and stored_status(run_dir) == "finished" \
            and outputs_written(run_dir):
        click.echo(f"{run_dir} already finished: nothing to resume", err=True)
        result = stored_result(run_dir)
        _print_summary(result, build("space", config.space).format)
        return result
    with interrupts_end_the_run(run_dir if context.is_main else None):
        return _search(config, config_path, overrides, run_dir, resume, progress, context)


def _search(config: RunConfig, config_path: Path | None, overrides: Sequence[str],
            run_dir: Path, resume: Path | None, progress: bool | None, context: DistContext
            ) -> SearchResult | None:
    parts = build_components(config)
    check_sections(config, parts)
    strategy = parts.strategy
    one_shot = isinstance(strategy, OneShotStrategy)
    if one_shot and config.distributed > 1 and not context.enabled:
        check_nproc(config.distributed, parts.device)
        launch(config.distributed, config_path, overrides, run_dir, resume, progress)
        return None
    if one_shot and config.supernet_from is not None and resume is None:
        trained_file(config.supernet_from, config)  # a bad source fails before the run starts
    executor = None
    if not one_shot:
        executor = make_executor(config.executor.to_dict() if config.executor else None)
        executor.check()
    if context.is_main:
        make_run_dir(run_dir)  # one that cannot be made fails here, as one line
        click.echo(f"run directory: {run_dir}", err=True)
    if isinstance(strategy, OneShotStrategy):
        from nasforge.oneshot import run_oneshot

        assert parts.task is not None and parts.selection is not None
        outcome = run_oneshot(parts.space, parts.task, strategy, parts.selection,
                              parts.evaluator,
                              device=runtime_for(context, parts.runtime), run_dir=run_dir,
                              resume=resume is not None, config=config, progress=progress,
                              seed=config.seed, dist=context,
                              supernet_from=config.supernet_from)
        if outcome is None:
            return None
        result = outcome
    else:
        assert parts.evaluator is not None and executor is not None
        result = run_search(parts.space, parts.evaluator, strategy, budget=config.budget,
                            run_dir=run_dir, resume=resume is not None, config=config,
                            progress=progress, executor=executor)
    _print_summary(result, parts.space.format)
    return result


def launch(nproc: int, config_path: Path | None, overrides: Sequence[str], run_dir: Path,
           resume: Path | None, progress: bool | None) -> None:
    """Start ``nproc`` processes of this search on this machine (as torchrun would), each a
    replica of the data-parallel group; rank 0 writes ``run_dir``."""
    import torch.multiprocessing as mp

    click.echo(f"run directory: {run_dir} ({nproc} data-parallel processes)", err=True)
    out = None if resume is not None else run_dir
    with child_environment(replica_threads(nproc)):  # each replica's env, before its torch
        mp.start_processes(_replica, args=(nproc, free_port(), config_path, tuple(overrides),
                                           out, resume, progress), nprocs=nproc,
                           start_method="spawn")


def replica_threads(world: int) -> int:
    """Each replica's share of the machine's cores (instead of oversubscribing them)."""
    return max(1, (os.cpu_count() or 1) // world)


def _replica(rank: int, world: int, port: int, config_path: Path | None,
             overrides: tuple[str, ...], out: Path | None, resume: Path | None,
             progress: bool | None) -> None:
    import torch

    set_environment(rank, world, port)
    torch.set_num_threads(replica_threads(world))
    run_search_command(config_path, overrides, out, resume, progress)  # rank 0 prints


def check_sections(config: RunConfig, parts: Components) -> None:
    """The sections each kind of strategy needs: one-shot = task + selection; ask/tell =
    evaluator, and no selection."""
    name = config.strategy.name
    if isinstance(parts.strategy, OneShotStrategy):
        check_oneshot(name, parts.strategy, parts.space, parts.task, parts.selection)
        return
    if config.supernet_from is not None:
        raise ConfigError(f"supernet_from is for one-shot strategies, not {name!r}")
    if config.distributed > 1:
        raise ConfigError("distributed.nproc is for one-shot supernet training; an ask/tell "
                          "search runs candidates in parallel with executor: {name: process}")
    if parts.evaluator is None:
        raise ConfigError(f"strategy {name!r} needs an evaluator section")
    if config.selection is not None:
        raise ConfigError(f"strategy {name!r} is not one-shot: drop the selection section")
    parts.strategy.check_feasible()


def _print_summary(result: SearchResult, fmt: object) -> None:
    from nasforge.report.data import RunInfo, load_run_info, sim_clock
    from nasforge.report.sources import metrics_text, outcome_text

    info = load_run_info(result.run_dir) if result.run_dir else RunInfo({}, None, None, None)
    failed = sum(t.status == "failed" for t in result.trials)
    click.echo(outcome_text(result.n_trials, failed, result.spent, info.evaluator,
                            one_shot_epochs=None if info.epochs is None else len(info.epochs),
                            wall_time=info.wall_time, sim_clock=sim_clock(result.trials),
                            supernet_from=info.supernet_from))
    if result.best is None:
        click.echo("no trial finished")
        return
    metrics = metrics_text(result.best.result.metrics, info.evaluator, one_shot=info.one_shot)
    click.echo(f"best: {fmt(result.best.arch)}")  # type: ignore[operator]
    click.echo(f"      {metrics}")
    click.echo(f"report: {result.run_dir}/report.html")
