"""``nasforge runs list`` and ``nasforge runs show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasforge.errors import RunDirError
from nasforge.report.data import load_run_info, sim_clock
from nasforge.report.sources import metrics_text, outcome_text
from nasforge.store import STORE_NAME, TrialStore, best_trial


def run_summary(run_dir: Path) -> dict[str, Any]:
    """Status, trial counts and the best trial of one run directory."""
    if not (run_dir / STORE_NAME).is_file():
        raise RunDirError(f"{run_dir} is not a run directory (no {STORE_NAME})")
    with TrialStore(run_dir / STORE_NAME) as store:
        trials = store.trials()
        space = store.get_meta("space", {})
        status = store.get_meta("status", "unknown")
    best = best_trial(trials)
    info = load_run_info(run_dir)
    best_json = run_dir / "best.json"
    record = json.loads(best_json.read_text()) if best_json.is_file() else None
    return {
        "run_dir": str(run_dir),
        "status": status,
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
    if summary["status"] == "interrupted":
        lines.append(f"continue  nasforge search --resume {summary['run_dir']}")
    return "\n".join(lines)


def list_runs(root: Path) -> list[str]:
    if not root.is_dir():
        raise RunDirError(f"no runs directory {root}")
    dirs = sorted(p for p in root.iterdir() if (p / STORE_NAME).is_file())
    if not dirs:
        return [f"no runs under {root}"]
    lines = [f"{'run':<40} {'status':<9} {'trials':>6} {'best':>8}"]
    for path in dirs:
        try:
            s = run_summary(path)
        except RunDirError as exc:  # one damaged run must not hide the others
            lines.append(f"{path.name:<40} {'damaged':<9} {'-':>6} {'-':>8}  ({exc})")
            continue
        best = s["best"]["metrics"].get("valid_acc") if s["best"] else None
        best_text = "-" if best is None else f"{best:.2f}"
        lines.append(f"{path.name:<40} {s['status']:<9} {s['n_trials']:>6} {best_text:>8}")
    return lines
