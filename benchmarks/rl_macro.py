"""The RL controller vs random sampling on the macro CNN space, every child trained from scratch
(Zoph & Le, ICLR 2017, Sec. 3.1-3.3: the controller's reward rises above random search's as it
learns). ``--config``: ``configs/rl_macro_cifar10.yaml`` (default; real CIFAR-10 at 16x16) or
``configs/rl_macro.yaml`` (MNIST-1D, the quick version). Both strategies train the same number
of children per seed; the controller's curriculum grows the depth, random search samples it
uniformly. The comparison is the mean reward (child validation accuracy) over the last third
of each search, per seed and over ``--seeds``; and, since the curriculum makes the controller's
last third deeper, the same against random search's children of the same depth.

Each (strategy, seed) is an ordinary resumable search in ``runs/rl_macro/CONFIG/STRATEGY-sS``,
grown ``--chunk`` children at a time (a kill loses at most the children in flight); after
every chunk the run directories are snapshotted into ``benchmarks/state/CONFIG`` (e.g.
``benchmarks/state/rl_macro_cifar10``; ``carry.py``), from which a fresh checkout continues;
once every search has all its children and the results are written, the snapshot is released
(a fresh checkout then starts from scratch). Writes
``results/CONFIG.json`` and ``.png`` (e.g. ``results/rl_macro_cifar10.json``).

    .venv/bin/python benchmarks/rl_macro.py --seeds 0 1 2          # CIFAR-10, ~1.5 h
    .venv/bin/python benchmarks/rl_macro.py --config configs/rl_macro.yaml --seeds 0
    .venv/bin/python benchmarks/rl_macro.py --summary-only          # from the runs so far
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: workers share the cores

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from carry import release, restore_missing, snapshot
from common import REPO, RESULTS, mean_std, new_figure, save_figure
from skeleton import finish, parser, start

import nasforge
from nasforge.config import RunConfig, load_config
from nasforge.run.components import build
from nasforge.run.store import TrialStore
from nasforge.spaces.macro import MacroSpace

STRATEGIES = ("controller", "random")
SIGNAL = "valid_acc"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, seeds=[0, 1, 2])
    p.add_argument("--config", default=str(REPO / "configs" / "rl_macro_cifar10.yaml"))
    p.add_argument("--trials", type=int, default=120, help="children per search")
    p.add_argument("--chunk", type=int, default=20, help="children between snapshots of the runs")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--summary-only", action="store_true", help="only summarise the runs so far")
    return p.parse_args(argv)


def runs_of(name: str) -> Path:
    """The run directories of one config (snapshotted together as ``benchmarks/state/NAME``)."""
    return REPO / "runs" / "rl_macro" / name


def run_dir(name: str, strategy: str, seed: int) -> Path:
    return runs_of(name) / f"{strategy}-s{seed}"


def strategy_spec(config: RunConfig, strategy: str) -> dict[str, Any]:
    return config.strategy.to_dict() if strategy == "controller" else {"name": "random"}


def grow(config: RunConfig, name: str, strategy: str, seed: int, args: argparse.Namespace
         ) -> None:
    """Extend the (strategy, seed) search to ``args.trials`` children, a chunk at a time."""
    out = run_dir(name, strategy, seed)
    assert config.task is not None
    while (done := finished(out)) < args.trials:
        nasforge.search(space=config.space.to_dict(), task=config.task.to_dict(),
                        evaluator=config.evaluator.to_dict(),
                        strategy=strategy_spec(config, strategy),
                        trials=min(args.trials, done + args.chunk), seed=seed, run_dir=out,
                        resume=(out / "trials.sqlite").is_file(), progress=True,
                        workers=args.workers)
        snapshot(out.parent, name)


def finished(out: Path) -> int:
    if not (out / "trials.sqlite").is_file():
        return 0
    with TrialStore(out / "trials.sqlite") as store:
        return sum(t.status in ("ok", "failed") for t in store.trials())


def read_run(out: Path, space: MacroSpace) -> dict[str, Any]:
    """The children in the order they were asked: reward (failed = none), layers, best."""
    with TrialStore(out / "trials.sqlite") as store:
        trials = sorted((t for t in store.trials() if t.status in ("ok", "failed")),
                        key=lambda t: t.id)
    ok = [t for t in trials if t.status == "ok"]
    best = max(ok, key=lambda t: t.result.metrics[SIGNAL])
    return {"reward": [t.result.metrics[SIGNAL] if t.status == "ok" else None
                       for t in trials],
            "layers": [len(space.layers(t.arch)) for t in trials],
            "failed": len(trials) - len(ok),
            "eval_seconds": float(sum(t.result.cost for t in ok)),
            "best": {"arch": space.format(best.arch), **best.result.metrics,
                     "params": best.result.params}}


def thirds(rewards: list[float | None]) -> dict[str, float]:
    """Mean reward of the first and last third of the search (failed children left out)."""
    third = max(1, len(rewards) // 3)

    def mean(part: list[float | None]) -> float:
        values = [r for r in part if r is not None]
        return float(np.mean(values)) if values else float("nan")

    return {"first_third": mean(rewards[:third]), "last_third": mean(rewards[-third:])}


def summarise(runs: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """Per strategy: last-third mean reward per seed and mean +- std; the controller's margin
    over random search per seed (both searches of a seed complete)."""
    out: dict[str, Any] = {}
    for strategy, by_seed in runs.items():
        last = [thirds(r["reward"])["last_third"] for r in by_seed.values()]
        best = [r["best"][SIGNAL] for r in by_seed.values()]
        out[strategy] = {"seeds": sorted(by_seed), "last_third_mean_std": mean_std(last),
                         "best_valid_mean_std": mean_std(best),
                         "best_test_mean_std": mean_std(
                             [r["best"].get("test_acc", float("nan")) for r in by_seed.values()])}
    common = sorted(set(runs.get("controller", {})) & set(runs.get("random", {})))
    margins = [thirds(runs["controller"][s]["reward"])["last_third"]
               - thirds(runs["random"][s]["reward"])["last_third"] for s in common]
    out["controller_minus_random_last_third"] = {
        "per_seed": dict(zip(common, margins, strict=True)), "mean_std": mean_std(margins),
        "seeds_above": sum(m > 0 for m in margins), "seeds": len(common)}
    matched = [depth_matched_margin(runs["controller"][s], runs["random"][s]) for s in common]
    out["controller_minus_random_same_depth"] = {
        "per_seed": dict(zip(common, matched, strict=True)), "mean_std": mean_std(matched),
        "seeds_above": sum(m > 0 for m in matched), "seeds": len(common)}
    return out


def depth_matched_margin(controller: dict[str, Any], random: dict[str, Any]) -> float:
    """The controller's last-third mean reward minus random search's mean reward over its
    children of the same depths, weighted as the controller's last third is: separates what
    the controller learned from what its curriculum's depth alone gives."""
    third = max(1, len(controller["reward"]) // 3)
    last = [(r, n) for r, n in zip(controller["reward"][-third:], controller["layers"][-third:],
                                   strict=True) if r is not None]
    by_depth: dict[int, list[float]] = {}
    for reward, layers in zip(random["reward"], random["layers"], strict=True):
        if reward is not None:
            by_depth.setdefault(layers, []).append(reward)
    pairs = [(r, float(np.mean(by_depth[n]))) for r, n in last if n in by_depth]
    if not pairs:
        return float("nan")
    return float(np.mean([r - baseline for r, baseline in pairs]))


def plot(runs: dict[str, dict[int, dict[str, Any]]], path: Path, window: int = 10) -> None:
    fig = new_figure(7, 4)
    ax = fig.subplots()
    for strategy, color in zip(STRATEGIES, ("C0", "C1"), strict=True):
        for i, (seed, run) in enumerate(sorted(runs.get(strategy, {}).items())):
            reward = np.array([np.nan if r is None else r for r in run["reward"]], float)
            if len(reward) < window:
                continue
            kernel = np.ones(window) / window
            smooth = np.convolve(np.nan_to_num(reward, nan=np.nanmean(reward)), kernel, "valid")
            ax.plot(np.arange(window, len(reward) + 1), smooth, color=color, alpha=0.8,
                    label=f"{strategy} (moving mean of {window})" if i == 0 else None,
                    linestyle=("-", "--", ":", "-.")[seed % 4])
    ax.set_xlabel("children trained (line style: seed)")
    ax.set_ylabel("child valid accuracy (%)")
    ax.legend()
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start(args)
    config = load_config(args.config, [])
    name = Path(args.config).stem
    restore_missing(name, runs_of(name))
    if not args.summary_only:
        for seed in args.seeds:
            for strategy in STRATEGIES:
                grow(config, name, strategy, seed, args)
    space = build("space", config.space)
    assert isinstance(space, MacroSpace)
    runs = {strategy: {seed: read_run(run_dir(name, strategy, seed), space)
                       for seed in args.seeds if finished(run_dir(name, strategy, seed))}
            for strategy in STRATEGIES}
    if not any(runs.values()):
        raise SystemExit(f"no run of {name} in {runs_of(name)}: run without --summary-only")
    payload = {"config": name, "trials": args.trials, "summary": summarise(runs), "runs": runs}
    finish(RESULTS / name, payload, lambda p, path: plot(p["runs"], path), report)
    if all(finished(out) >= args.trials for out in runs_of(name).iterdir() if out.is_dir()):
        release(name)  # every search is complete and its results written
    return 0


def report(payload: dict[str, Any]) -> str:
    """Per search its children and rewards by third, and the controller's margins."""
    lines = []
    for strategy in STRATEGIES:
        for seed, run in sorted(payload["runs"][strategy].items()):
            part = thirds(run["reward"])
            lines.append(f"{strategy} s{seed}: {len(run['reward'])} children, first third "
                         f"{part['first_third']:.1f}, last third {part['last_third']:.1f}, "
                         f"best valid {run['best'][SIGNAL]:.1f} test "
                         f"{run['best'].get('test_acc', float('nan')):.1f}")
    summary = payload["summary"]
    lines += [str(summary["controller_minus_random_last_third"]),
              str(summary["controller_minus_random_same_depth"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
