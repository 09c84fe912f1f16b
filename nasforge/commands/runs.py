"""``nasforge runs list`` and ``nasforge runs show``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from nasforge.config import read_yaml
from nasforge.errors import RunDirError
from nasforge.report.data import load_run_info, sim_clock
from nasforge.report.sources import metrics_text, outcome_text, signal_name
from nasforge.run.directory import CONFIG_NAME
from nasforge.run.lock import holder
from nasforge.run.store import STORE_NAME, TrialStore, best_trial


def live_status(run_dir: Path, stored: str) -> str:
    """The stored status, checked against the run's lock: a run stored as "running" whose
    process is gone (killed, crashed, a script stopped by SIGTERM) is "interrupted (process
    gone)", and ``--resume`` continues it."""
    if stored == "running" and holder(run_dir) is None:
        return "interrupted (process gone)"
    return stored


def run_summary(run_dir: Path) -> dict[str, Any]:
    """Status, trial counts and the best trial of one run directory."""
    if not (run_dir / STORE_NAME).is_file():
        if (run_dir / CONFIG_NAME).is_file():  # interrupted before its store was made
            raise RunDirError(f"{run_dir} never started: nasforge search --resume {run_dir} "
                              "starts it")
        raise RunDirError(f"{run_dir} is not a run directory (no {STORE_NAME})")
    with TrialStore(run_dir / STORE_NAME) as store:
        trials = store.trials()
        space = store.get_meta("space", {})
        status = live_status(run_dir, store.get_meta("status", "unknown"))
        created = store.get_meta("created")
    best = best_trial(trials)
    info = load_run_info(run_dir)
    best_json = run_dir / "best.json"
    record = json.loads(best_json.read_text()) if best_json.is_file() else None
    return {
        "run_dir": str(run_dir),
        "status": status,
        "created": created,
        "strategy": _strategy_name(run_dir),
        "space": space,
        "n_trials": len(trials),
        "n_failed": sum(t.status == "failed" for t in trials),
        "n_running": sum(t.status == "running" for t in trials),
        "cost_seconds": sum(t.result.cost for t in trials),
        "evaluator": info.evaluator,
        "one_shot_epochs": None if info.epochs is None else len(info.epochs),
        "supernet_from": info.supernet_from,
        "wall_seconds": info.wall_time,
        "sim_clock_seconds": sim_clock(trials),
        "best": None if best is None else {
            "trial": best.id,
            "architecture": best.arch.to_dict(),
            "arch_str": record["arch_str"] if record else best.arch.to_json(),
            "metrics": best.result.metrics,
            "params": best.result.params,
            "flops": best.result.flops,
        },
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"run       {summary['run_dir']}",
        f"status    {summary['status']}",
        f"space     {summary['space']}",
        "search    " + outcome_text(summary["n_trials"], summary["n_failed"],
                                    summary["cost_seconds"], summary["evaluator"],
                                    one_shot_epochs=summary["one_shot_epochs"],
                                    wall_time=summary["wall_seconds"],
                                    sim_clock=summary["sim_clock_seconds"],
                                    supernet_from=summary.get("supernet_from")),
    ]
    best = summary["best"]
    if best:
        metrics = metrics_text(best["metrics"], summary["evaluator"],
                               one_shot=summary["one_shot_epochs"] is not None)
        lines += [f"best      {best['arch_str']}", f"metrics   {metrics}"]
    if summary["status"].startswith("interrupted"):
        lines.append(f"continue  nasforge search --resume {summary['run_dir']}")
    return "\n".join(lines)


def list_runs(root: Path) -> list[str]:
    """One line per run under ``root``: status (checked against the run's lock), strategy,
    start, trials, and the best number with its name and where it comes from (a search
    signal, an NB201 table look-up, a retrained network are not the same number)."""
    if not root.is_dir():
        raise RunDirError(f"no runs directory {root}")
    dirs = sorted(p for p in root.iterdir()
                  if (p / STORE_NAME).is_file() or (p / CONFIG_NAME).is_file())
    if not dirs:
        return [f"no runs under {root}"]
    rows = [["run", "status", "strategy", "started", "trials", "best", "metric"]]
    notes: dict[int, str] = {}
    for path in dirs:
        try:
            s = run_summary(path)
        except RunDirError as exc:  # one damaged run must not hide the others
            state = "not started" if "never started" in str(exc) else "damaged"
            notes[len(rows)] = f"  ({exc})" if state == "damaged" else ""
            rows.append([path.name, state, "-", "-", "-", "-", "-"])
            continue
        rows.append([path.name, s["status"], s["strategy"] or "-", _date(s["created"]),
                     str(s["n_trials"]), *_best(s)])
    return [line + notes.get(i, "") for i, line in enumerate(_columns(rows))]


def _columns(rows: list[list[str]]) -> list[str]:
    """Rows as aligned text: every column as wide as its widest cell (numbers right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {4, 5}  # trials, best
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def _best(summary: dict[str, Any]) -> list[str]:
    """The best trial's number and its label, e.g. ``91.26``, ``valid_acc: NB201 table
    cifar10 200 ep``."""
    best = summary["best"]
    if best is None:
        return ["-", "-"]
    metrics = best["metrics"]
    name = signal_name(metrics)
    value = metrics.get(name)
    if not isinstance(value, (int, float)):
        return ["-", "-"]
    return [f"{value:.2f}", f"{name}: {_short_source(summary)}"]


def _short_source(summary: dict[str, Any]) -> str:
    evaluator = summary.get("evaluator") or {}
    kind = str(evaluator.get("evaluator", ""))
    one_shot = summary["one_shot_epochs"] is not None
    if kind == "table":
        where = f"NB201 table {evaluator.get('dataset', 'cifar10')} " \
                f"{evaluator.get('fidelity', '?')} ep"
    else:
        where = {"train": "trained from scratch", "supernet": "inherited weights",
                 "supernet_path": "supernet path", "lm": "language model"}.get(kind, kind or "?")
    return f"{where}, the selection" if one_shot else f"{where}, search signal"


def _date(created: float | None) -> str:
    return "-" if created is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(created))


def _strategy_name(run_dir: Path) -> str | None:
    """The strategy named in the run's ``config.yaml`` (None without one)."""
    try:
        raw = read_yaml((run_dir / CONFIG_NAME).read_text())
        strategy = raw.get("strategy") if isinstance(raw, dict) else None
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if isinstance(strategy, dict):
        strategy = strategy.get("name")
    return str(strategy) if strategy else None
