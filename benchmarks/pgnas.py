"""Posterior-guided NAS (Zhou et al., AAAI 2020) on the proxy task: the paper's comparisons.

1. Guided vs random-dropout sampling, no fine-tuning, the SAME supernet and the same number of
   candidates: masks from the learned p vs masks at one fixed rate (the learned mean p, so
   both drop as many units on average). Also the baseline of Bender et al. on its own terms:
   a supernet trained with fixed-rate dropout, sampled at that rate, without and with a few
   fine-tuning steps per candidate.
2. Error vs the number of candidates (the paper's Table 6): the best of the first C.
3. The p-dependent weight term vs a constant L2 term (the paper's ablation).
4. The NB201 operation-level variant: the selected cell's NB201 CIFAR-10 test accuracy, seeds.

Supernet for 1-3: the multi-branch ResNet of configs/pgnas_resnet.yaml (SupNet-M, branches
3/5/7, C=8, one block per stage) on MNIST-1D; 4: configs/pgnas_nb201.yaml.
Writes benchmarks/results/pgnas.json and pgnas.png.

    .venv/bin/python benchmarks/pgnas.py            # ~10 min on 2 cores
    .venv/bin/python benchmarks/pgnas.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from common import REPO, display_path, mean_std, new_figure, save_figure, stopwatch
from skeleton import finish, parser, start

from nasforge.config import load_config
from nasforge.evaluators.table import NB201Table
from nasforge.run.components import Components, build_components
from nasforge.run.oneshot import train_supernet
from nasforge.selection.base import SelectionContext
from nasforge.selection.posterior import PosteriorSampling, candidate_curve
from nasforge.supernet.base import Supernet

log = logging.getLogger("benchmarks.pgnas")
RESNET = REPO / "configs" / "pgnas_resnet.yaml"
NB201 = REPO / "configs" / "pgnas_nb201.yaml"
PAPER = {
    "guided_vs_random": "posterior-guided sampling 14-23% relatively lower error than random "
                        "sampling with a fixed dropout rate, no fine-tuning (e.g. 13.45% -> "
                        "2.56% error on one supernet)",
    "candidates": "CIFAR-10 error 2.17% with 50 candidates, 2.06% with 1,500, 1.98% with "
                  "10,000",
    "p_dependent": "CIFAR-100 error 14.28% with the p-dependent term vs 17.41% with constant L2",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "pgnas", seeds=[0, 1, 2], quick=True)
    p.add_argument("--epochs", type=int, default=20, help="supernet epochs")
    p.add_argument("--candidates", type=int, default=200)
    p.add_argument("--curve-candidates", type=int, default=1000)
    p.add_argument("--finetune-steps", type=int, default=10)
    p.add_argument("--resnet-config", default=str(RESNET),
                   help="multi-branch ResNet config (e.g. configs/pgnas_resnet_cifar10.yaml)")
    p.add_argument("--nb201-config", default=str(NB201),
                   help="NB201 op-level config (e.g. configs/pgnas_nb201_cifar10.yaml)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.candidates, args.curve_candidates = 1, 10, 20
        args.seeds, args.finetune_steps = [0], 2
    return args


def components(path: Any, overrides: Sequence[str]) -> Components:
    return build_components(load_config(path, list(overrides)))


def trained(comp: Components, seed: int) -> tuple[Supernet, dict[str, Any]]:
    """The supernet ``run_oneshot`` would train, trained for the config's epochs."""
    assert comp.task is not None
    with stopwatch() as elapsed:
        net, history = train_supernet(comp.strategy, comp.task,  # type: ignore[arg-type]
                                      device=comp.device, seed=seed)
    metrics = {k: v for k, v in history[-1].items() if k != "epoch"}
    bank = net.bank  # type: ignore[union-attr]
    probs = bank.drop_probs().detach()  # type: ignore[operator]
    return net, {"seconds": elapsed[0], "last_epoch": metrics,
                 "mean_p": bank.mean_drop_rate(),  # type: ignore[operator]
                 "p": probs.cpu().numpy().round(4).tolist()}


def sample(comp: Components, net: Supernet, seed: int, **options: Any) -> dict[str, Any]:
    selection = PosteriorSampling(**options)
    assert comp.task is not None
    ctx = SelectionContext(net, comp.strategy, comp.task, comp.device,  # type: ignore[arg-type]
                           np.random.default_rng(seed), space=comp.space)
    with stopwatch() as elapsed:
        arch = selection.select(ctx)
    curve = candidate_curve(selection.rows)
    best = curve[-1]
    return {"arch": comp.space.format(arch), "valid_error": best["valid_error"],
            "test_error": best["test_error"], "curve": curve, "seconds": elapsed[0],
            "candidates_per_second": len(selection.rows) / max(elapsed[0], 1e-9),
            "dropped": selection.dropped}


def resnet_experiments(args: argparse.Namespace) -> dict[str, Any]:
    epochs = f"strategy.epochs={args.epochs}"
    out: dict[str, Any] = {}
    comp = components(args.resnet_config, [epochs])
    net, info = trained(comp, 0)
    rate = info["mean_p"]
    out["learned_supernet"] = info
    out["guided"] = sample(comp, net, 0, candidates=args.curve_candidates)
    out["random_same_supernet"] = sample(comp, net, 0, candidates=args.candidates,
                                         sampling="mean_rate")
    base = components(args.resnet_config, [epochs, "strategy.dropout=fixed",
                                           f"strategy.fixed_rate={rate}"])
    base_net, out["bender_supernet"] = trained(base, 0)
    out["bender"] = sample(base, base_net, 0, candidates=args.candidates, sampling="fixed",
                           fixed_rate=rate)
    out["bender_finetuned"] = sample(base, base_net, 0, candidates=args.candidates,
                                     sampling="fixed", fixed_rate=rate,
                                     finetune_steps=args.finetune_steps)
    const = components(args.resnet_config, [epochs, "strategy.p_dependent=false"])
    const_net, out["constant_l2_supernet"] = trained(const, 0)
    out["constant_l2"] = sample(const, const_net, 0, candidates=args.candidates)
    out["guided_at_candidates"] = next(row for row in out["guided"]["curve"]
                                       if row["candidates"] >= min(args.candidates,
                                                                   args.curve_candidates))
    return out


def nb201_experiment(args: argparse.Namespace, table: NB201Table) -> list[dict[str, Any]]:
    runs = []
    for seed in args.seeds:
        comp = components(args.nb201_config, [f"strategy.epochs={args.epochs}", f"seed={seed}"])
        net, info = trained(comp, seed)
        result = sample(comp, net, seed, candidates=args.candidates)
        result["c10_test"] = table.value(result["arch"], "c10_test")
        runs.append({"seed": seed, "supernet": info, **result})
        log.info("NB201 seed %d: %s -> %.2f", seed, result["arch"], result["c10_test"])
    return runs


def plot(payload: dict[str, Any], path: Any) -> None:
    fig = new_figure(12.0, 4.0)
    left, mid, right = fig.subplots(1, 3)
    res = payload["resnet"]
    names = ["guided_at_candidates", "random_same_supernet", "bender", "bender_finetuned",
             "constant_l2"]
    labels = ["guided", "random rate,\nsame supernet", "Bender", "Bender +\nfine-tune",
              "constant L2,\nguided"]
    left.bar(labels, [res[n]["test_error"] for n in names], color="tab:blue")
    left.set_ylabel("test error of the best candidate (%)")
    left.tick_params(axis="x", labelsize=7)
    curve = res["guided"]["curve"]
    mid.plot([r["candidates"] for r in curve], [r["test_error"] for r in curve], "o-",
             label="test")
    mid.plot([r["candidates"] for r in curve], [r["valid_error"] for r in curve], "s--",
             label="valid")
    mid.set_xscale("log")
    mid.set_xlabel("candidates")
    mid.set_ylabel("error (%)")
    mid.legend()
    probs = np.array(res["learned_supernet"]["p"])
    image = right.imshow(1 - probs, cmap="viridis", aspect="auto")
    right.set_xlabel("kernel size group (3, 5, 7)")
    right.set_ylabel("block")
    right.set_title("learned keep probability 1 - p")
    fig.colorbar(image, ax=right)
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table_path = start(args, threads=2, nb201_env=True)
    with stopwatch() as elapsed:
        resnet = resnet_experiments(args)
        nb201 = nb201_experiment(args, NB201Table(table_path))
    mean, std = mean_std([run["c10_test"] for run in nb201])
    payload = {"settings": {"epochs": args.epochs, "candidates": args.candidates,
                            "curve_candidates": args.curve_candidates,
                            "finetune_steps": args.finetune_steps, "seeds": args.seeds,
                            "configs": [display_path(args.resnet_config),
                                        display_path(args.nb201_config)]},
               "paper": PAPER, "resnet": resnet,
               "nb201": {"runs": nb201, "c10_test_mean": mean, "c10_test_std": std},
               "wall_seconds": elapsed[0]}
    return finish(args.out, payload, plot, markdown)


def markdown(payload: dict[str, Any]) -> str:
    res = payload["resnet"]
    rows = [("posterior-guided (learned p)", "guided_at_candidates"),
            ("random masks at the mean p, same supernet", "random_same_supernet"),
            ("Bender: fixed-dropout supernet, fixed-rate masks", "bender"),
            ("Bender + fine-tuning each candidate", "bender_finetuned"),
            ("guided, constant-L2 supernet (ablation)", "constant_l2")]
    lines = ["| sampling (no fine-tuning unless said) | valid error | test error |",
             "|---|---|---|"]
    for label, key in rows:
        lines.append(f"| {label} | {res[key]['valid_error']:.2f} | {res[key]['test_error']:.2f} |")
    random = {r["candidates"]: r for r in res["random_same_supernet"]["curve"]}
    lines += ["", "| candidates | guided valid / test error | random (mean p) valid / test error |",
              "|---|---|---|"]
    for r in res["guided"]["curve"]:
        other = random.get(r["candidates"])
        versus = "-" if other is None else (f"{other['valid_error']:.2f} / "
                                            f"{other['test_error']:.2f}")
        lines.append(f"| {r['candidates']} | {r['valid_error']:.2f} / {r['test_error']:.2f} | "
                     f"{versus} |")
    nb = payload["nb201"]
    lines += ["", f"NB201 op-level: C10 test {nb['c10_test_mean']:.2f} +- "
                  f"{nb['c10_test_std']:.2f} over seeds "
                  + ", ".join(f"{r['seed']}: {r['arch']} {r['c10_test']:.2f}" for r in nb["runs"]),
              f"wall {payload['wall_seconds'] / 60:.1f} min"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
