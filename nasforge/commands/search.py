"""``nasforge search``."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import click

from nasforge.commands.interrupts import interrupts_end_the_run
from nasforge.config import RunConfig, load_config
from nasforge.data.arrays import describe
from nasforge.errors import ConfigError
from nasforge.run.components import build, check_config, resolve_device
from nasforge.run.directory import (
    CONFIG_NAME,
    SearchResult,
    check_run_dir,
    make_run_dir,
    outputs_written,
    stored_result,
    stored_status,
)
from nasforge.run.distributed import DistContext, free_port, from_environment, set_environment
from nasforge.run.plan import execute, plan_from_config, replica_threads
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
    return config, out or default_run_dir(config_path)


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
    plan = plan_from_config(config, run_dir, resume=resume is not None)
    plan.check(main=context.is_main)
    if plan.one_shot and plan.distributed > 1 and not context.enabled:
        launch(plan.distributed, config_path, overrides, run_dir, resume, progress)
        return None
    if context.is_main:
        make_run_dir(run_dir)  # one that cannot be made fails here, as one line
        click.echo(f"run directory: {run_dir}", err=True)
        if plan.task is not None and (line := describe(plan.task)):
            click.echo(line, err=True)  # what was derived from the user's data
    result = execute(plan, progress=progress, context=context)
    if result is not None:
        _print_summary(result, plan.space.format)
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


def _replica(rank: int, world: int, port: int, config_path: Path | None,
             overrides: tuple[str, ...], out: Path | None, resume: Path | None,
             progress: bool | None) -> None:
    import torch

    set_environment(rank, world, port)
    torch.set_num_threads(replica_threads(world))
    run_search_command(config_path, overrides, out, resume, progress)  # rank 0 prints


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
