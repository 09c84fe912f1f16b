"""The RL controller searching recurrent cells (Zoph & Le 2017, Sec. 3.4 / 4.2) on the synthetic
PTB-format corpus (configs/rl_rnn_cell.yaml), then the best found cell and a plain LSTM of the
same size retrained from scratch with the same settings and seeds; valid/test perplexity of
both. Writes benchmarks/results/rl_rnn_cell.json and .png.
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/rl_rnn_cell.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import REPO, new_figure, save_figure, stopwatch
from skeleton import finish, parser, start

from nasforge.architecture import Architecture
from nasforge.config import load_config
from nasforge.evaluators.lm import LanguageModelEvaluator, LMSettings
from nasforge.run.components import build_components
from nasforge.run.executors import ProcessExecutor
from nasforge.run.loop import run_search
from nasforge.training import seeded

CONFIG = REPO / "configs" / "rl_rnn_cell.yaml"
# Zoph & Le 2017, Table 2 (Penn Treebank test perplexity), as quoted in METHODS.md
PAPER = {"NAS cell (54M params)": 62.4}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "rl_rnn_cell", overrides=True)
    p.add_argument("--trials", type=int, default=150)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3, help="retraining seeds")
    p.add_argument("--retrain-epochs", type=int, default=12)
    return p.parse_args(argv)


def search(trials: int, workers: int, overrides: Sequence[str]) -> dict[str, Any]:
    config = load_config(CONFIG, [*overrides, f"budget.trials={trials}"])
    parts = build_components(config)
    with stopwatch() as elapsed:
        result = run_search(parts.space, parts.evaluator, parts.strategy,  # type: ignore[arg-type]
                            budget=config.budget, executor=ProcessExecutor(workers))
    ok = [t for t in result.trials if t.status == "ok"]
    best = max(ok, key=lambda t: t.result.metrics["reward"])
    return {"seconds": elapsed[0], "trials": len(result.trials),
            "failed": len(result.trials) - len(ok),
            "reward": [t.result.metrics["reward"] if t.status == "ok" else None
                       for t in result.trials],
            "valid_ppl": [t.result.metrics["valid_ppl"] if t.status == "ok" else None
                          for t in result.trials],
            "best": {"arch": parts.space.format(best.arch), "architecture": best.arch.to_dict(),
                     **best.result.metrics, "params": best.result.params},
            "history": getattr(parts.strategy, "history", [])}


def retrain(kind: str, arch: dict[str, Any] | None, seed: int, epochs: int,
            overrides: Sequence[str]) -> dict[str, Any]:
    """One retraining from scratch (run in a worker process): the cell or the LSTM baseline,
    the search's evaluator settings with ``epochs`` epochs."""
    torch.set_num_threads(1)
    config = load_config(CONFIG, overrides)
    parts = build_components(config)
    evaluator = parts.evaluator
    assert isinstance(evaluator, LanguageModelEvaluator)
    settings = LMSettings(**{**vars(evaluator.settings), "epochs": epochs})
    with seeded(seed):
        model = (evaluator.space.build(Architecture(arch), evaluator.shape) if kind == "cell"
                 else evaluator.space.build_lstm_baseline(evaluator.shape))  # type: ignore[attr-defined]
        metrics = evaluator.train_and_score(model, settings)
    params = sum(p.numel() for p in model.parameters())
    return {"kind": kind, "seed": seed, "params": params, **metrics}


def retrain_all(arch: dict[str, Any], seeds: int, epochs: int, workers: int,
                overrides: Sequence[str]) -> list[dict[str, Any]]:
    jobs = [(kind, arch if kind == "cell" else None, seed, epochs, tuple(overrides))
            for seed in range(seeds) for kind in ("cell", "lstm")]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(retrain, *zip(*jobs, strict=True)))


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for kind in ("cell", "lstm"):
        rows = [r for r in runs if r["kind"] == kind]
        out[kind] = {f"{key}_{stat}": float(fn([r[key] for r in rows]))
                     for key in ("valid_ppl", "test_ppl")
                     for stat, fn in (("mean", np.mean), ("std", np.std))}
        out[kind]["params"] = rows[0]["params"]
    return out


def plot(found: dict[str, Any], path: Path) -> None:
    fig = new_figure(7, 4)
    ax = fig.subplots()
    reward = np.array([np.nan if r is None else r for r in found["reward"]])
    ax.plot(np.arange(1, len(reward) + 1), reward, ".", alpha=0.4, label="child reward")
    window = 10
    if len(reward) >= window:
        filled = np.nan_to_num(reward, nan=0.0)  # a failed child scores 0
        smooth = np.convolve(filled, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(reward) + 1), smooth, label=f"moving mean of {window}")
    ax.plot(np.arange(1, len(reward) + 1), np.fmax.accumulate(np.nan_to_num(reward)),
            label="best so far")
    ax.set_xlabel("children trained")
    ax.set_ylabel("reward 80^2 / valid_ppl^2")
    ax.legend()
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    with stopwatch() as elapsed:
        found = search(args.trials, args.workers, args.overrides)
        runs = retrain_all(found["best"]["architecture"], args.seeds, args.retrain_epochs,
                           args.workers, args.overrides)
    payload = {"config": str(CONFIG.relative_to(REPO)), "trials": args.trials,
               "overrides": args.overrides, "workers": args.workers,
               "retrain_epochs": args.retrain_epochs,
               "search": found, "retrain": runs, "summary": summarize(runs),
               "paper_ptb_test_ppl": PAPER, "wall_seconds": elapsed[0]}
    return finish(args.out, payload, lambda p, path: plot(p["search"], path), report)


def report(payload: dict[str, Any]) -> str:
    """The search's rewards by third and best cell; the cell against the LSTM, retrained."""
    found = payload["search"]
    reward = [r for r in found["reward"] if r is not None]
    third = max(1, len(reward) // 3)
    seeds = len({r["seed"] for r in payload["retrain"]})
    lines = [f"search: {found['trials']} children ({found['failed']} failed) in "
             f"{found['seconds']:.0f}s; mean reward first third {np.mean(reward[:third]):.2f}, "
             f"last third {np.mean(reward[-third:]):.2f}; best {found['best']['arch']}"]
    lines += [f"{kind}: valid ppl {row['valid_ppl_mean']:.2f} +- {row['valid_ppl_std']:.2f}, "
              f"test ppl {row['test_ppl_mean']:.2f} +- {row['test_ppl_std']:.2f} "
              f"({row['params']:.0f} params, {seeds} seeds)"
              for kind, row in payload["summary"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
