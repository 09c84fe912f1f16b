"""The proxy network's training step on cores shared with a CPU-bound competitor, with and
without nasforge's OpenMP setting (passive waiting), in one interleaved run.

The network is the proxy task's (``configs/proxy_task.yaml``: NB201 skeleton, C=8, N=1, one
fixed cell with every op kind) on MNIST-1D-shaped input (1 x 40, 10 classes; ``--length`` for
other lengths, e.g. 427 as a UCR series), batch 32, SGD, ``--threads`` torch threads (2). Four
conditions, each in a fresh child process (OpenMP reads its wait policy once, when torch
loads it, so a policy needs its own process):

- ``default``: the environment without ``OMP_WAIT_POLICY`` (what a user gets from torch);
- ``nasforge``: the environment nasforge's CLI and workers give (``nasforge.threads``:
  passive waiting unless the user chose a policy);

each alone and beside one competitor (a pure-Python busy loop, one core), interleaved round by
round. A child times ``--steps`` steps after warm-up (fewer when they exceed
``--max-seconds``); the medians of all rounds' steps are reported, and for each setting the
ratio beside / alone (the target: at most 2.5x for 2 threads, a fair share being 2x).

Note: "alone" means without *our* competitor; the machine may be shared with other users, so
the load average at the start and end of the run is recorded.

Writes ``benchmarks/results/contention.json`` and ``contention.png``.

    .venv/bin/python benchmarks/contention.py                  # ~3-6 min on 2 shared cores
    .venv/bin/python benchmarks/contention.py --rounds 1 --steps 5
    .venv/bin/python benchmarks/contention.py --length 427 \
        --output benchmarks/results/contention_427.json    # a UCR-length series
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from common import REPO, RESULTS, log, new_figure, save_figure, setup_logging, write_json

SETTINGS = ("default", "nasforge")
PLACES = ("alone", "beside")
CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"
COMPETITOR = "while True: pass"  # CPU-bound, one core, no OpenMP of its own


def child_main(args: argparse.Namespace) -> None:
    """In the child: build the proxy network, time training steps, print JSON (ms)."""
    import torch

    from nasforge.spaces.nb201 import NB201Space
    from nasforge.task import Shape

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = NB201Space(C=8, N=1)
    net = space.build(space.parse(CELL), Shape((1, args.length), 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(args.batch, 1, args.length)  # (B, 1, L)
    y = torch.randint(0, 10, (args.batch,))

    def step() -> float:
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        return (time.perf_counter() - start) * 1000

    for _ in range(args.warmup):
        step()
    times: list[float] = []
    deadline = time.perf_counter() + args.max_seconds
    while len(times) < args.steps and (len(times) < 3 or time.perf_counter() < deadline):
        times.append(step())
    print(json.dumps({"ms": times, "threads": torch.get_num_threads(),
                      "policy": os.environ.get("OMP_WAIT_POLICY")}))


def child_env(setting: str) -> dict[str, str]:
    from nasforge.threads import prefer_passive_waiting

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if setting == "nasforge":
        prefer_passive_waiting(env)  # exactly what the CLI does to its environment
    return env


def measure(setting: str, place: str, args: argparse.Namespace) -> dict[str, Any]:
    """One child process's step times, with our competitor running beside it or not."""
    competitor = (subprocess.Popen([sys.executable, "-c", COMPETITOR]) if place == "beside"
                  else None)
    try:
        cmd = [sys.executable, __file__, "--child", "--threads", str(args.threads),
               "--length", str(args.length), "--batch", str(args.batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--max-seconds", str(args.max_seconds)]
        out = subprocess.run(cmd, env=child_env(setting), capture_output=True, text=True,
                             check=True, timeout=600)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def summarize(runs: dict[str, list[float]]) -> dict[str, Any]:
    medians = {key: statistics.median(ms) for key, ms in runs.items()}
    ratios = {s: medians[f"{s}/beside"] / medians[f"{s}/alone"] for s in SETTINGS}
    return {"median_ms": medians, "beside_over_alone": ratios,
            "nasforge_speedup_beside": medians["default/beside"] / medians["nasforge/beside"],
            "steps_timed": {key: len(ms) for key, ms in runs.items()}}


def plot(summary: dict[str, Any], args: argparse.Namespace, path: str) -> None:
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    keys = [f"{s}/{p}" for s in SETTINGS for p in PLACES]
    values = [summary["median_ms"][k] for k in keys]
    bars = ax.bar(keys, values, color=["#999", "#c44", "#69c", "#36a"])
    ax.bar_label(bars, labels=[f"{v:.0f} ms" for v in values])
    ax.set_yscale("log")
    ax.set_ylabel("median training step (ms, log scale)")
    ax.set_title(f"NB201 C=8 N=1, input 1x{args.length}, batch {args.batch}, {args.threads} "
                 "threads: alone vs beside one busy process", fontsize=9)
    save_figure(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--length", type=int, default=40, help="input length (MNIST-1D: 40)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--steps", type=int, default=20, help="timed steps per child")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=10.0, help="per child, then stop")
    p.add_argument("--output", default=str(RESULTS / "contention.json"), help="JSON (+ .png)")
    args = p.parse_args()
    if args.child:
        child_main(args)
        return
    setup_logging()
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {f"{s}/{p}": [] for s in SETTINGS for p in PLACES}
    for round_ in range(args.rounds):
        for key in runs:
            setting, place = key.split("/")
            got = measure(setting, place, args)
            runs[key].extend(got["ms"])
            log.info("round %d %-16s median %.1f ms (%d steps, policy %s)", round_, key,
                     statistics.median(got["ms"]), len(got["ms"]), got["policy"])
    summary = summarize(runs)
    config = {k: v for k, v in vars(args).items() if k not in ("child", "output")}
    write_json(args.output,
               {"config": {**config, "cell": CELL, "network": "NB201 C=8 N=1"},
                "load_average_before": load_before, "load_average_after": os.getloadavg(),
                **summary, "step_ms": runs})
    plot(summary, args, args.output.replace(".json", ".png"))
    for key, value in summary["median_ms"].items():
        print(f"{key:18s} {value:8.1f} ms")
    print("beside / alone:", {k: round(v, 2) for k, v in summary["beside_over_alone"].items()})


if __name__ == "__main__":
    main()
