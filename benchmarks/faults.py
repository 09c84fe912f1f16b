"""Faults injected at random moments of a run's whole life: does every search continue to the
trial sequence of an uninterrupted run, with nothing evaluated twice?

For each scenario, an uninterrupted run gives the reference (its trials, in order, with their
metrics) and its duration T. Then, ``--injections`` times: ``nasforge search CONFIG --out R``
is started as a terminal's foreground job, and at a random moment in [0, 1.05 T] (a quarter of
the moments within its first second: start-up, directory creation, the first trial) its
process group gets SIGINT (Ctrl-C), SIGTERM (``kill``, a batch system) or SIGKILL (``kill -9``,
out of memory). Then the run is continued as a user would: ``nasforge search --resume R``
when R holds a run, else the original command again. The injection counts as resumed when
the continued run ends finished with the reference's trials (architectures, statuses and
metrics, in order: a trial evaluated twice would show as one more) and its report written.
Its exit is clean when the interrupted command ended as it should: one line and status 130
on SIGINT, 143 on SIGTERM (or 0 if it had finished first), no traceback; a signal that lands
while the interpreter itself starts, before any nasforge code runs, gets Python's default
(and leaves nothing behind).

Scenarios: ``table`` (regularized evolution on the NB201 table: many short trials),
``train`` (candidates trained from scratch on MNIST-1D), ``process`` (the same in two worker
processes), ``oneshot`` (DARTS-PT on a tiny NB201 supernet: checkpoints per epoch and per
decision). Writes ``benchmarks/results/faults.json``.

    python benchmarks/faults.py                                  # 200 injections, ~40 min
    python benchmarks/faults.py --injections 8 --scenarios table --out /tmp/f.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, RESULTS, nb201_table_path, setup_logging, write_json

TASK = "{name: mnist1d, num_samples: 600, train_size: 200, valid_fraction: 0.5, batch_size: 50}"
SCENARIOS: dict[str, str] = {
    "table": "space: {name: nb201}\nevaluator: {name: table}\n"
             "strategy: {name: evolution, population: 5, sample_size: 2}\nbudget: {trials: 40}\n",
    "train": f"space: {{name: nb201, C: 4, N: 1}}\ntask: {TASK}\n"
             "evaluator: {name: train, epochs: 2}\n"
             "strategy: {name: evolution, population: 3, sample_size: 2}\nbudget: {trials: 6}\n",
    "process": f"space: {{name: nb201, C: 4, N: 1}}\ntask: {TASK}\n"
               "evaluator: {name: train, epochs: 2}\nstrategy: {name: random}\n"
               "executor: {name: process, workers: 2}\nbudget: {trials: 6}\n",
    "oneshot": f"space: {{name: nb201, C: 4, N: 1}}\ntask: {TASK}\n"
               "strategy: {name: darts, epochs: 3}\n"
               "selection: {name: perturbation, finetune_epochs: 1, valid_batches: 1}\n"
               "evaluator: {name: table}\n",
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
EXPECTED_EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGKILL": -9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--injections", type=int, default=200, help="in all, over scenarios")
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "faults.json"))
    args = parser.parse_args()
    setup_logging()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        env = {**os.environ, "NASFORGE_NB201": str(nb201_table_path()),
               "NASFORGE_CACHE": str(work / "cache"), "OMP_WAIT_POLICY": "PASSIVE",
               "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        rows: list[dict[str, Any]] = []
        summary: dict[str, Any] = {}
        for i, name in enumerate(args.scenarios):
            count = args.injections // len(args.scenarios) + (
                i < args.injections % len(args.scenarios))
            rows += scenario(name, count, work / name, env, rng)
            ok = [r for r in rows if r["scenario"] == name]
            summary[name] = {"injections": len(ok), "resumed": sum(r["resumed"] for r in ok),
                             "clean_exits": sum(r["clean_exit"] for r in ok)}
            print(f"{name}: {summary[name]['resumed']} of {len(ok)} resumed", flush=True)
    total = {"injections": len(rows), "resumed": sum(r["resumed"] for r in rows),
             "clean_exits": sum(r["clean_exit"] for r in rows),
             "unclean_at_s": sorted(r["at_s"] for r in rows if not r["clean_exit"]),
             "by_signal": {s: sum(r["resumed"] for r in rows if r["signal"] == s)
                           for s in SIGNALS},
             "per_signal": {s: sum(r["signal"] == s for r in rows) for s in SIGNALS},
             "within_first_second": sum(r["at_s"] < 1.0 for r in rows)}
    write_json(Path(args.out), {"total": total, "scenarios": summary, "injections": rows})
    print(json.dumps(total))
    sys.exit(0 if total["resumed"] == total["injections"] else 1)


def scenario(name: str, count: int, work: Path, env: dict[str, str], rng: random.Random
             ) -> list[dict[str, Any]]:
    work.mkdir(parents=True)
    config = work / "config.yaml"
    config.write_text(SCENARIOS[name])
    start = time.perf_counter()
    code = _search([str(config), "--out", str(work / "reference")], env)
    duration = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{name}: the uninterrupted run failed ({code})")
    reference = trials(work / "reference")
    rows = []
    for k in range(count):
        sig = rng.choice(list(SIGNALS))
        at = rng.uniform(0.0, 1.0) if rng.random() < 0.25 else rng.uniform(0, 1.05 * duration)
        rows.append(inject(name, k, config, work / f"run{k}", sig, at, reference, env))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def inject(name: str, k: int, config: Path, run: Path, sig: str, at: float,
           reference: list[tuple[Any, ...]], env: dict[str, str]) -> dict[str, Any]:
    """One interrupted run, continued; whether it ended as the reference did."""
    proc = subprocess.Popen([sys.executable, "-m", "nasforge", "search", str(config), "--out",
                             str(run)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        proc.wait(timeout=at)
        finished_first = True
    except subprocess.TimeoutExpired:
        finished_first = False
        os.killpg(proc.pid, SIGNALS[sig])  # as a terminal signals its foreground job
    _, stderr = proc.communicate(timeout=120)
    code = proc.returncode
    exit_ok = code == 0 if finished_first or code == 0 else code == EXPECTED_EXIT[sig]
    traceback = "Traceback" in stderr and sig != "SIGKILL"
    holds_run = (run / "config.yaml").is_file() or (run / "trials.sqlite").is_file()
    again = ["--resume", str(run)] if holds_run else [str(config), "--out", str(run)]
    continued = _search(again, env)
    got = trials(run) if (run / "trials.sqlite").is_file() else []
    resumed = (continued == 0 and got == reference and (run / "report.html").is_file()
               and _status(run) == "finished")
    clean = exit_ok and not traceback
    return {"scenario": name, "k": k, "signal": sig, "at_s": round(at, 3),
            "interrupted_exit": code, "finished_first": finished_first,
            "continued_with": "resume" if holds_run else "original", "continue_exit": continued,
            "same_trials": got == reference, "resumed": resumed, "clean_exit": clean,
            "stderr": stderr.strip().splitlines()[-1:] if not (resumed and clean) else []}


def _search(args: list[str], env: dict[str, str]) -> int:
    return subprocess.run([sys.executable, "-m", "nasforge", "search", *args], cwd=REPO,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=600).returncode


def trials(run: Path) -> list[tuple[Any, ...]]:
    """(architecture, status, metrics) of every trial, in order."""
    with sqlite3.connect(run / "trials.sqlite") as db:
        rows = db.execute("SELECT arch, status, metrics FROM trials ORDER BY id").fetchall()
    return [(arch, status, json.loads(metrics) if metrics else None)
            for arch, status, metrics in rows]


def _status(run: Path) -> str:
    with sqlite3.connect(run / "trials.sqlite") as db:
        row = db.execute("SELECT value FROM meta WHERE name='status'").fetchone()
    return json.loads(row[0]) if row else "unknown"


if __name__ == "__main__":
    main()
