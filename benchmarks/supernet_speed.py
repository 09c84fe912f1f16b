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

The plain reference is written here, independent of nasforge's ops: every edge computes all
five ops, ``none`` included (``x * 0``), and sums ``w_o * op_o(x)`` -- the naive DARTS/NB201
code. It shares the NB201 skeleton (stem, reduction blocks, classifier) and, for the
correctness check, the weights of our supernet.

Writes ``benchmarks/results/supernet_speed.json`` and ``supernet_speed.png`` and prints a
markdown table.

    .venv/bin/python benchmarks/supernet_speed.py              # ~5-10 min on 2 shared cores
    .venv/bin/python benchmarks/supernet_speed.py --reps 2 --skip-pt

Note: ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is imported. On a machine whose cores are
shared with other processes, OpenMP's default spin-waiting made a 2-thread training step up to
30x slower than a 1-thread one (each of the thousands of small parallel regions waits for a
descheduled thread); passive waiting removes that pathology and is harmless otherwise.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see above

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import RESULTS, new_figure, save_figure, setup_logging, write_json  # noqa: E402
from torch import nn  # noqa: E402

from nasforge.spaces.nb201 import EDGES, NODES, NB201Network, edge_label  # noqa: E402
from nasforge.supernet.nb201 import NB201Supernet  # noqa: E402
from nasforge.task import Shape  # noqa: E402

log = logging.getLogger("benchmarks.supernet_speed")

SHAPE = Shape((3, 32, 32), 10)
C, N, BATCH = 16, 5, 64
PT_EDGE, PT_OP = "2<-1", "nor_conv_3x3"  # the op masked in (c)


# ---------------------------------------------------------------- the plain reference
class PlainZero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class PlainPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def plain_relu_conv_bn(c: int, k: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, 1, (k - 1) // 2, bias=False),
                         nn.BatchNorm2d(c, affine=False))


class PlainMixedOp(nn.Module):
    """Every op computed, ``none`` included: ``sum_o w_o * op_o(x)``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList([PlainZero(), nn.Identity(), plain_relu_conv_bn(c, 1),
                                  plain_relu_conv_bn(c, 3), PlainPool()])

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return sum(w[i] * op(x) for i, op in enumerate(self.ops))  # type: ignore[return-value]


class PlainCell(nn.Module):
    def __init__(self, weights: dict[str, torch.Tensor], c: int) -> None:
        super().__init__()
        self.weights = weights  # shared dict, so set_weights reaches every cell
        self.edges = nn.ModuleDict({edge_label(*e): PlainMixedOp(c) for e in EDGES})
        self.index = {edge_label(*e): i for i, e in enumerate(EDGES)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights["w"]
        nodes = [x]
        for to in range(1, NODES):
            nodes.append(sum(self.edges[edge_label(to, src)](
                nodes[src], w[self.index[edge_label(to, src)]]) for src in range(to)))
        return nodes[-1]


class PlainSupernet(nn.Module):
    def __init__(self, shape: Shape, c: int, n: int, channels_last: bool = False) -> None:
        super().__init__()
        self.weights: dict[str, torch.Tensor] = {"w": torch.full((len(EDGES), 5), 0.2)}
        self.net = NB201Network(lambda ch: PlainCell(self.weights, ch), shape, c, n)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def set_weights(self, w: torch.Tensor) -> None:
        self.weights["w"] = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the variants
VARIANTS: dict[str, str] = {
    "plain": "plain reference (every op, NCHW)",
    "plain_cl": "plain reference + channels_last",
    "ours_nchw": "nasforge supernet, channels_last=False",
    "ours_unfused": "nasforge supernet, fused=False (edge by edge)",
    "ours": "nasforge supernet (default)",
}


def build(variant: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
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


class Trainer:
    """One DARTS weight step: weights = softmax(alpha) (alpha requires grad), forward,
    cross-entropy, backward, grad clip, SGD (DARTS's settings)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(EDGES), 5,
                                                     generator=torch.Generator().manual_seed(1)))
        self.opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9,
                                   weight_decay=3e-4)
        self.x, self.y = batch()

    def step(self) -> float:
        self.model.train()
        self.model.set_weights(torch.softmax(self.alpha, -1))  # type: ignore[operator]
        loss = nn.functional.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        self.alpha.grad = None
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.opt.step()
        return float(loss.item())


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


def interleaved(fns: dict[str, Callable[[], Any]], reps: int, warmup: int = 1
                ) -> dict[str, list[float]]:
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        log.info("warmed up %s", name)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for rep in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        log.info("rep %d: %s", rep,
                 {k: round(v[-1], 3) for k, v in times.items()})
    return times


def summary(times: list[float], samples: int) -> dict[str, Any]:
    med = statistics.median(times)
    return {"seconds": times, "median_s": med, "samples_per_s": samples / med}


# ---------------------------------------------------------------- memory (child process)
def _status_mib(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process from /proc (Linux), in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(variant: str, threads: int) -> None:
    """Peak RSS of training steps above the RSS after the build. Not ``ru_maxrss``: Linux keeps
    that across exec, so a child would inherit the parent's mark. ``VmHWM`` belongs to this
    process's address space; writing 5 to clear_refs resets it to the current RSS."""
    torch.set_num_threads(threads)
    trainer = Trainer(build(variant))
    base = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    deltas = []
    for _ in range(2):
        trainer.step()
        deltas.append(_status_mib("VmHWM") - base)
    print(json.dumps({"baseline_mib": base, "peak_mib": base + deltas[-1],
                      "first_step_delta_mib": deltas[0], "step_delta_mib": deltas[-1]}))


def measure_memory(variant: str, threads: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--memory-child", variant,
                          "--threads", str(threads)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


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
        net = space.supernet(task.shape)
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
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    p.add_argument("--output", default=str(RESULTS / "supernet_speed.json"))
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.threads)
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

    trainers = {v: Trainer(build(v)) for v in VARIANTS}
    train = {v: summary(t, BATCH) for v, t in
             interleaved({v: tr.step for v, tr in trainers.items()}, args.reps).items()}
    del trainers

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
    }
    write_json(args.output, payload)
    plot(payload, args.output.replace(".json", ".png"))
    print(table(payload))


def table(p: dict[str, Any]) -> str:
    rows = ["| variant | train samples/s | x plain | step s | peak step MiB | "
            "PT eval r1 samples/s (x plain) | PT eval r6 samples/s (x plain) |",
            "|---|---|---|---|---|---|---|"]
    for v, desc in p["variants"].items():
        t = p["train_step"][v]
        cells = []
        for k in ("pt_round1", "pt_round6"):
            e = p["pt_eval"][k].get(v)
            cells.append("-" if e is None else
                         f"{e['samples_per_s']:.0f} ({e['ratio_vs_plain']:.2f}x)")
        rows.append(f"| {v}: {desc} | {t['samples_per_s']:.1f} | {t['ratio_vs_plain']:.2f}x | "
                    f"{t['median_s']:.2f} | {p['memory'][v]['step_delta_mib']:.0f} | "
                    + " | ".join(cells) + " |")
    out = "\n".join(rows)
    if p["pt_selection"]:
        out += "\n\n| PT selection (C=8, N=1, MNIST-1D) | valid samples | seconds (median) | arch |"
        out += "\n|---|---|---|---|"
        for r in p["pt_selection"]["runs"].values():
            out += (f"\n| valid_batches={r['valid_batches']} | {r['valid_samples']} | "
                    f"{r['median_s']:.1f} | {r['arch']} |")
    return out


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
