"""Speed and memory of the NB201 supernet against a plain ``sum(w * op(x))`` reference.

Measures on CPU, in one run, interleaved (variant A, B, C, D, then again, ...), medians over
``--reps`` repetitions after a warm-up:

(a) a DARTS training step (softmax(alpha) weights requiring grad, forward + backward + SGD
    step) of the NB201 supernet (C=16, N=5, 3x32x32 inputs, 10 classes, batch 64):
    samples/s of ours (``nasforge.supernet.nb201.NB201Supernet``) vs the plain reference,
    with two ablations of ours: without channels_last, and edge by edge (``fused=False``:
    no shared ReLU, pooling or batched convolutions across the edges leaving a node);
(b) the peak memory of a training step: in a fresh child process per variant, the peak RSS
    (``VmHWM``, reset to the current RSS right after the model, optimizer and batch were
    built) over two training steps, minus the RSS after the build (so: activations,
    gradients, optimizer state and allocator overhead of a step, not the Python/torch
    import);
(c) DARTS-PT masked evaluations (no grad, batch norm in train mode, batch 64): one op masked
    on an undecided supernet (PT's first round) and with 5 of the 6 edges already discretized
    (its last round); the plain reference runs the same weights (masked op zeroed, decided
    edges one-hot) and, being plain, computes every op anyway;
(d) the whole DARTS-PT selection (``PerturbationSelection``, ``finetune_epochs=0``) on the
    proxy-sized supernet (C=8, N=1, MNIST-1D, 2000 validation samples in batches of 128) with
    every validation batch vs a capped ``valid_batches``.

Peers (``peers.py``; skipped with a note when ``xautodl`` is not installed): in (a) and (b),
xautodl's NB201 DARTS-V1 supernet as shipped and in channels-last; and

(e) on the DARTS space (C=16, 6 cells, 32x32, batch 32): our ``DartsSupernet`` against
    xautodl's ``NASNetworkDARTS`` (N=2: the same 6-cell layout), training step and memory as in
    (a) and (b), plus the convolutions and parameters of both and of the official DARTS search
    network (quark0/darts ``model_search.py``, counted from its structure) at 6 and 8 cells.

Every training step is also given as GFLOP/s (FLOPs of convolutions and matrix products:
3x the forward's, counted by torch's FlopCounterMode on the model itself) and as a fraction
of the rate of a 2048 x 2048 matmul timed in the same interleaved loop.

The plain reference (``plain_reference.py``) is independent of nasforge's ops.

Writes ``benchmarks/results/supernet_speed.json`` and ``supernet_speed.png`` and prints a
markdown table.

    .venv/bin/python benchmarks/supernet_speed.py              # ~5-10 min on 2 shared cores
    .venv/bin/python benchmarks/supernet_speed.py --reps 2 --skip-pt --darts-reps 1

Note: passive OpenMP waiting is set before torch is imported, as nasforge's CLI does (see
``nasforge/threads.py`` and ``benchmarks/contention.py``).
"""

from __future__ import annotations

from nasforge.threads import prefer_passive_waiting

prefer_passive_waiting()  # before torch loads OpenMP; see above

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import peers  # noqa: E402
import torch  # noqa: E402
from common import RESULTS, new_figure, save_figure, setup_logging, write_json  # noqa: E402
from plain_reference import PlainSupernet  # noqa: E402
from stepping import Trainer, interleaved, print_step_memory, summary  # noqa: E402
from torch import nn  # noqa: E402

from nasforge.spaces.nb201 import EDGES, edge_label  # noqa: E402
from nasforge.supernet import build_supernet  # noqa: E402
from nasforge.supernet.base import Supernet  # noqa: E402
from nasforge.supernet.darts import DartsSupernet  # noqa: E402
from nasforge.supernet.nb201 import NB201Supernet  # noqa: E402
from nasforge.task import Shape  # noqa: E402

log = logging.getLogger("benchmarks.supernet_speed")

SHAPE = Shape((3, 32, 32), 10)
C, N, BATCH = 16, 5, 64
DARTS_CELLS, DARTS_PEER_N, DARTS_BATCH = 6, 2, 32  # xautodl's 3N cells: N=2 is our 6
PT_EDGE, PT_OP = "2<-1", "nor_conv_3x3"  # the op masked in (c)


# ---------------------------------------------------------------- the variants
VARIANTS: dict[str, str] = {
    "plain": "plain reference (every op, NCHW)",
    "plain_cl": "plain reference + channels_last",
    "ours_nchw": "nasforge supernet, channels_last=False",
    "ours_unfused": "nasforge supernet, fused=False (edge by edge)",
    "ours": "nasforge supernet (default)",
}
PEERS = {"xautodl": "xautodl TinyNetworkDarts (DARTS-V1 NB201 supernet), as shipped",
         "xautodl_cl": "xautodl TinyNetworkDarts + channels_last"}
DARTS_VARIANTS = {"darts_ours": f"nasforge DartsSupernet, {DARTS_CELLS} cells",
                  "darts_ours_unfused": "nasforge DartsSupernet, fused=False (edge by edge)",
                  "darts_xautodl": f"xautodl NASNetworkDARTS, N={DARTS_PEER_N} "
                                   f"({3 * DARTS_PEER_N} cells)"}


def build(variant: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    if variant in PEERS:
        return peers.xautodl_nb201(C, N, SHAPE.num_classes, variant == "xautodl_cl")
    if variant.startswith("darts_ours"):
        return DartsSupernet(SHAPE, C=C, layers=DARTS_CELLS, fused=variant == "darts_ours")
    if variant == "darts_xautodl":
        return peers.xautodl_darts(C, DARTS_PEER_N, SHAPE.num_classes)
    ours = NB201Supernet(SHAPE, C, N, channels_last=variant != "ours_nchw",
                         fused=variant != "ours_unfused")
    if variant.startswith("ours"):
        return ours
    plain = PlainSupernet(SHAPE, C, N, channels_last=variant == "plain_cl")
    plain.load_state_dict(ours.state_dict())  # same names, same weights
    return plain


def batch(seed: int = 0, size: int = BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(size, *SHAPE.input_shape, generator=gen), \
        torch.randint(0, SHAPE.num_classes, (size,), generator=gen)


def trainer(variant: str) -> Trainer:
    """DARTS's weight step for ``variant``: ours update every parameter (alpha is outside),
    a peer its operation weights (its alpha is inside)."""
    model = build(variant)
    shape = tuple(model.arch_state.valid.shape) if isinstance(model, Supernet) else (
        len(EDGES), 5)
    params = model.weight_parameters() if isinstance(model, peers.Peer) else None
    size = DARTS_BATCH if variant in DARTS_VARIANTS else BATCH
    return Trainer(model, shape, batch(size=size), params)


def measure_memory(variant: str, threads: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--memory-child", variant,
                          "--threads", str(threads)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def timed_steps(variants: Sequence[str], reps: int, batch_size: int) -> dict[str, Any]:
    """Training steps of ``variants`` and the matmul, interleaved; samples/s, GFLOP/s and
    the fraction of the matmul rate of each."""
    trainers = {v: trainer(v) for v in variants}
    fns: dict[str, Callable[[], Any]] = {v: t.step for v, t in trainers.items()}
    times = interleaved({**fns, "matmul": peers.matmul_step()}, reps)
    rate = peers.matmul_flops() / statistics.median(times.pop("matmul"))
    out: dict[str, Any] = {"matmul_gflops": rate / 1e9}
    for v, t in times.items():
        flops = peers.flops_per_sample(trainers[v].model, trainers[v].x)
        s = summary(t, batch_size)
        gflops = flops * s["samples_per_s"] / 1e9
        out[v] = {**s, "gflop_per_sample": flops / 1e9, "gflops": gflops,
                  "fraction_of_matmul": gflops * 1e9 / rate}
    return out


def darts_space(reps: int, threads: int) -> dict[str, Any]:
    """(e): ours vs xautodl's NASNetworkDARTS on the DARTS space, and the structure of both
    against the official search network."""
    steps = timed_steps(list(DARTS_VARIANTS), reps, DARTS_BATCH)
    memory = {v: measure_memory(v, threads) for v in DARTS_VARIANTS}
    counts = {v: peers.module_counts(build(v)) for v in DARTS_VARIANTS}
    counts["darts_ours_8_cells"] = peers.module_counts(DartsSupernet(SHAPE, C=C, layers=8))
    official = {f"{cells}_cells": peers.official_darts_counts(C, cells) for cells in (6, 8)}
    ours, peer = steps["darts_ours"], steps["darts_xautodl"]
    return {"setup": {"C": C, "cells": DARTS_CELLS, "batch": DARTS_BATCH, "reps": reps},
            "variants": DARTS_VARIANTS, "train_step": steps, "memory": memory,
            "counts": counts, "official_darts_counts": official,
            "ours_equals_official": counts["darts_ours"] == official["6_cells"]
            and counts["darts_ours_8_cells"] == official["8_cells"],
            "speed_ratio_ours_vs_xautodl": ours["samples_per_s"] / peer["samples_per_s"],
            "memory_ratio_ours_vs_xautodl": memory["darts_ours"]["step_delta_mib"]
            / memory["darts_xautodl"]["step_delta_mib"]}


def base_weights() -> torch.Tensor:
    """softmax(alpha) near DARTS's initialisation (alpha = 1e-3 * N(0, 1))."""
    alpha = 1e-3 * torch.randn(len(EDGES), 5, generator=torch.Generator().manual_seed(1))
    return torch.softmax(alpha, -1)


def pt_weights(decided: int) -> torch.Tensor:
    """The effective weights PT evaluates: the first ``decided`` edges one-hot
    (nor_conv_3x3), ``PT_OP`` on ``PT_EDGE`` zeroed (no renormalisation)."""
    w = base_weights()
    labels = [edge_label(*e) for e in EDGES]
    masked = labels.index(PT_EDGE)
    for e in [i for i in range(len(EDGES)) if i != masked][:decided]:
        w[e] = 0.0
        w[e, 3] = 1.0
    w[masked, 3] = 0.0  # nor_conv_3x3 is op 3 of NB201_OPS
    return w


def setup_pt_eval(model: nn.Module, decided: int) -> Callable[[], None]:
    """A PT validation forward (no grad, batch norm in train mode) with the masked op."""
    x, _ = batch(seed=2)
    if isinstance(model, NB201Supernet):
        model.set_weights(base_weights())  # PT's verbs below do the rest
        labels = [label for label in model.edges if label != PT_EDGE]
        for label in labels[:decided]:
            model.discretize(label, "nor_conv_3x3")
        model.mask(PT_EDGE, PT_OP)
        assert torch.allclose(model.arch_state.effective, pt_weights(decided))
    else:
        model.set_weights(pt_weights(decided))  # type: ignore[operator]

    @torch.no_grad()
    def run() -> None:
        model.train()
        model(x)

    return run


# ---------------------------------------------------------------- PT selection (proxy)
def pt_selection_times(caps: Sequence[int | None], reps: int) -> dict[str, Any]:
    from nasforge.data.mnist1d import mnist1d_task
    from nasforge.selection.base import SelectionContext
    from nasforge.selection.perturbation import PerturbationSelection
    from nasforge.spaces.nb201 import NB201Space
    from nasforge.strategies.darts import DartsSearch

    task = mnist1d_task(seed=0, num_samples=10000, train_size=4000, valid_fraction=0.5,
                        batch_size=128)
    space = NB201Space(C=8, N=1)

    def run(cap: int | None) -> tuple[float, str]:
        torch.manual_seed(0)
        net = build_supernet(space, task.shape)
        strategy = DartsSearch(space, seed=0, epochs=0)
        strategy.setup(net, task, torch.device("cpu"))
        ctx = SelectionContext(net, strategy, task, torch.device("cpu"),
                               np.random.default_rng(0))
        start = time.perf_counter()
        arch = PerturbationSelection(finetune_epochs=0, valid_batches=cap).select(ctx)
        return time.perf_counter() - start, space.format(arch)

    results: dict[str, Any] = {}
    for cap in caps:
        run(cap)  # warm-up
    for _ in range(reps):
        for cap in caps:
            seconds, arch = run(cap)
            entry = results.setdefault(str(cap), {"valid_batches": cap, "seconds": [],
                                                  "arch": arch})
            entry["seconds"].append(seconds)
    for entry in results.values():
        entry["median_s"] = statistics.median(entry["seconds"])
        n = task.info["valid"] if entry["valid_batches"] is None else min(
            task.info["valid"], entry["valid_batches"] * task.batch_size)
        entry["valid_samples"] = n
    return {"task": "mnist1d (10000 generated, 4000 used, valid 2000), batch 128",
            "space": {"C": 8, "N": 1}, "evaluations": 6 * 5, "runs": results}


# ---------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=7, help="timed training steps per variant")
    p.add_argument("--eval-reps", type=int, default=5, help="timed PT forwards per variant")
    p.add_argument("--pt-reps", type=int, default=2, help="timed PT selections per cap")
    p.add_argument("--pt-cap", type=int, default=4, help="the capped valid_batches in (d)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--skip-pt", action="store_true", help="skip (d)")
    p.add_argument("--darts-reps", type=int, default=3, help="timed steps per variant in (e)")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    p.add_argument("--output", default=str(RESULTS / "supernet_speed.json"))
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_child:
        torch.set_num_threads(args.threads)
        print_step_memory(trainer(args.memory_child))
        return
    setup_logging()
    logging.getLogger("nasforge").setLevel(logging.WARNING)  # PT logs every decision
    torch.set_num_threads(args.threads)

    # correctness: same weights, same batch -> same logits (train-mode batch norm)
    ours, plain = build("ours"), build("plain")
    x, _ = batch()
    w = torch.softmax(torch.randn(len(EDGES), 5, generator=torch.Generator().manual_seed(3)), -1)
    ours.set_weights(w)
    plain.set_weights(w)  # type: ignore[operator]
    with torch.no_grad():
        max_diff = float((ours.train()(x) - plain.train()(x)).abs().max())
    log.info("max |logits ours - plain| = %.2e", max_diff)
    del ours, plain

    have_peers = peers.xautodl_available()
    if have_peers:
        VARIANTS.update(PEERS)
    else:
        log.warning("xautodl is not installed (pip install --no-deps xautodl): no peers")
    train = timed_steps(list(VARIANTS), args.reps, BATCH)
    matmul_gflops = train.pop("matmul_gflops")

    memory = {}
    for v in VARIANTS:
        memory[v] = measure_memory(v, args.threads)
        log.info("memory %s: %s", v, memory[v])

    evals: dict[str, dict[str, Any]] = {}
    for decided, name in ((0, "pt_round1"), (5, "pt_round6")):
        fns = {v: setup_pt_eval(build(v), decided) for v in ("plain", "plain_cl", "ours")}
        evals[name] = {v: summary(t, BATCH) for v, t in
                       interleaved(fns, args.eval_reps).items()}

    pt = None if args.skip_pt else pt_selection_times([None, args.pt_cap], args.pt_reps)
    darts = darts_space(args.darts_reps, args.threads) if have_peers else None

    ref = train["plain"]["samples_per_s"]
    payload = {
        "setup": {"C": C, "N": N, "input": list(SHAPE.input_shape), "classes": 10,
                  "batch": BATCH, "threads": args.threads, "reps": args.reps,
                  "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                  "masked": f"{PT_OP} on {PT_EDGE}",
                  "memory_method": "VmHWM (peak RSS, reset via clear_refs after the build) of a "
                                   "fresh child process over 2 training steps, minus its VmRSS "
                                   "after building model+optimizer+batch"},
        "variants": VARIANTS,
        "max_abs_logit_diff_ours_vs_plain": max_diff,
        "train_step": {v: {**s, "ratio_vs_plain": s["samples_per_s"] / ref}
                       for v, s in train.items()},
        "memory": memory,
        "pt_eval": {k: {v: {**s, "ratio_vs_plain": s["samples_per_s"] /
                            d["plain"]["samples_per_s"]} for v, s in d.items()}
                    for k, d in evals.items()},
        "pt_selection": pt,
        "matmul_gflops_2048": matmul_gflops,
        "peers": peer_summary(train, memory) if have_peers else
        "skipped: xautodl is not installed (pip install --no-deps xautodl)",
        "darts_space": darts,
    }
    write_json(args.output, payload)
    plot(payload, args.output.replace(".json", ".png"))
    print(table(payload))


def peer_summary(train: dict[str, Any], memory: dict[str, Any]) -> dict[str, float]:
    ours, mem = train["ours"]["samples_per_s"], memory["ours"]["step_delta_mib"]
    return {"xautodl_version": importlib.metadata.version("xautodl"),
            "speed_ratio_ours_vs_xautodl": ours / train["xautodl"]["samples_per_s"],
            "speed_ratio_ours_vs_xautodl_cl": ours / train["xautodl_cl"]["samples_per_s"],
            "memory_ratio_ours_vs_xautodl": mem / memory["xautodl"]["step_delta_mib"]}


def table(p: dict[str, Any]) -> str:
    rows = ["| variant | train samples/s | x plain | step s | peak step MiB | GFLOP/s (x matmul) | "
            "PT eval r1 samples/s (x plain) | PT eval r6 samples/s (x plain) |",
            "|---|---|---|---|---|---|---|---|"]
    for v, desc in p["variants"].items():
        t = p["train_step"][v]
        cells = []
        for k in ("pt_round1", "pt_round6"):
            e = p["pt_eval"][k].get(v)
            cells.append("-" if e is None else
                         f"{e['samples_per_s']:.0f} ({e['ratio_vs_plain']:.2f}x)")
        rows.append(f"| {v}: {desc} | {t['samples_per_s']:.1f} | {t['ratio_vs_plain']:.2f}x | "
                    f"{t['median_s']:.2f} | {p['memory'][v]['step_delta_mib']:.0f} | "
                    f"{t['gflops']:.0f} ({t['fraction_of_matmul']:.2f}) | "
                    + " | ".join(cells) + " |")
    out = "\n".join(rows) + f"\n\nmatmul 2048x2048: {p['matmul_gflops_2048']:.0f} GFLOP/s"
    if p["darts_space"]:
        out += "\n\n" + darts_table(p["darts_space"])
    if p["pt_selection"]:
        out += "\n\n| PT selection (C=8, N=1, MNIST-1D) | valid samples | seconds (median) | arch |"
        out += "\n|---|---|---|---|"
        for r in p["pt_selection"]["runs"].values():
            out += (f"\n| valid_batches={r['valid_batches']} | {r['valid_samples']} | "
                    f"{r['median_s']:.1f} | {r['arch']} |")
    return out


def darts_table(d: dict[str, Any]) -> str:
    rows = ["| DARTS space, C=16, 6 cells, batch 32 | samples/s | peak step MiB | GFLOP/s "
            "(x matmul) | convolutions | parameters |", "|---|---|---|---|---|---|"]
    for v, desc in d["variants"].items():
        t, c = d["train_step"][v], d["counts"][v]
        rows.append(f"| {desc} | {t['samples_per_s']:.2f} | "
                    f"{d['memory'][v]['step_delta_mib']:.0f} | {t['gflops']:.0f} "
                    f"({t['fraction_of_matmul']:.2f}) | {c['convolutions']} | "
                    f"{c['parameters']:,} |")
    official = d["official_darts_counts"]["6_cells"]
    rows.append(f"| official DARTS search network (counted) | | | | "
                f"{official['convolutions']} | {official['parameters']:,} |")
    return "\n".join(rows) + (f"\n\nours / xautodl: speed {d['speed_ratio_ours_vs_xautodl']:.2f}x"
                              f", memory {d['memory_ratio_ours_vs_xautodl']:.2f}x")


def plot(p: dict[str, Any], path: str) -> None:
    fig = new_figure(11, 3.8)
    axes = fig.subplots(1, 3)
    names = list(p["variants"])
    axes[0].bar(names, [p["train_step"][v]["samples_per_s"] for v in names], color="C0")
    axes[0].set_title("training step: samples/s")
    axes[1].bar(names, [p["memory"][v]["step_delta_mib"] for v in names], color="C1")
    axes[1].set_title("training step: peak RSS above baseline (MiB)")
    ev = ["plain", "plain_cl", "ours"]
    for i, k in enumerate(("pt_round1", "pt_round6")):
        axes[2].bar(np.arange(3) + 0.4 * i, [p["pt_eval"][k][v]["samples_per_s"] for v in ev],
                    width=0.4, label=k)
    axes[2].set_xticks(np.arange(3) + 0.2, ev)
    axes[2].set_title("PT masked eval: samples/s")
    axes[2].legend()
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=20)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
