"""The ``nasforge`` command line: search, runs, train.

User errors (bad config, malformed architecture, missing data, ...) print one line on stderr
and exit with status 2, no traceback.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click

from nasforge.errors import NasforgeError, Terminated
from nasforge.threads import prefer_passive_waiting  # cli.py's imports never load torch

EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM

log = logging.getLogger("nasforge")


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's user errors into one-line CLI errors (exit status 2)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NasforgeError as exc:
            raise UserError(str(exc)) from None

    return wrapper


class Nasforge(click.Group):
    """The command group; an interrupt that reaches it (one that lands before a command
    installs its own handling, e.g. while it starts) ends the command as one line and exit
    status 130 (Ctrl-C) or 143 (SIGTERM), never click's "Aborted!" and status 1."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _interrupt_exits():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _interrupt_exits():
            return super().invoke(ctx)


@contextmanager
def _interrupt_exits() -> Iterator[None]:
    """KeyboardInterrupt / Terminated -> one line and exit status 130 / 143 (a SystemExit,
    which click lets through: it would turn the interrupt into "Aborted!" and status 1)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        click.echo(f"interrupted ({'SIGTERM' if terminated else 'Ctrl-C'})", err=True)
        raise SystemExit(EXIT_SIGTERM if terminated else EXIT_SIGINT) from None


@click.group(cls=Nasforge)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.version_option(package_name="nasforge")
def main(verbose: bool) -> None:
    """nasforge: neural architecture search on PyTorch."""
    # Before any command imports torch, for this process and every worker it starts
    # (nasforge.threads says why); a policy the user set wins.
    prefer_passive_waiting()
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # Without a terminal, progress is a line now and then on stderr (nasforge.progress).
    logging.getLogger("nasforge.progress").setLevel(logging.INFO)


@main.command()
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set strategy.population=50 --set seed=3.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory to create.")
@click.option("--resume", type=click.Path(path_type=Path), help="Continue the run in DIR.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars; default: in a terminal, else a log line every ~10 s.")
@user_errors
def search(config: Path | None, overrides: tuple[str, ...], out: Path | None,
           resume: Path | None, progress: bool | None) -> None:
    """Run the search described by CONFIG (YAML) and write a run directory."""
    from nasforge.commands.search import run_search_command

    run_search_command(config, overrides, out, resume, progress)


@main.group()
def runs() -> None:
    """Inspect run directories."""


@runs.command("list")
@click.argument("root", required=False, default="runs", type=click.Path(path_type=Path))
@user_errors
def runs_list(root: Path) -> None:
    """List the runs under ROOT (default: ./runs)."""
    from nasforge.commands.runs import list_runs

    for line in list_runs(root):
        click.echo(line)


@runs.command("show")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@user_errors
def runs_show(run_dir: Path, as_json: bool) -> None:
    """Show one run: status, trials, best architecture and metrics."""
    from nasforge.commands.runs import format_summary, run_summary

    summary = run_summary(run_dir)
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))


@main.command()
@click.argument("arch_json", type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(path_type=Path),
              help="Take the task (and seed, device) from this config; default: the run's.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override config values, e.g. --set task.train_size=2000.")
@click.option("--epochs", type=int, default=None,
              help="Training epochs (default: 10; the lm evaluator: 3x its search's).")
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the model.")
@click.option("--onnx", is_flag=True,
              help="Also write model.onnx, checked against PyTorch (pip install 'nasforge[onnx]').")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars; default: in a terminal, else a log line every ~10 s.")
@user_errors
def train(arch_json: Path, config: Path | None, overrides: tuple[str, ...], epochs: int | None,
          out: Path | None, onnx: bool, progress: bool | None) -> None:
    """Retrain the architecture in ARCH_JSON (a best.json) from scratch and save the model:
    model.pt (nasforge.load), model.ts (TorchScript), with --onnx model.onnx; all three take
    raw inputs (the task's normalisation is inside)."""
    from nasforge.commands.interrupts import interrupts_end_the_run
    from nasforge.commands.train import report_lines, retrain

    start = time.perf_counter()
    with interrupts_end_the_run(None):
        record = retrain(arch_json, config, overrides, epochs, out, progress, onnx)
    for line in report_lines(record, time.perf_counter() - start):
        click.echo(line)




__all__ = ["main"]
