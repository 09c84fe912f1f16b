"""nasforge on one GPU, in one command sized to finish in about 6 minutes (an H200 lease is 15):

1. **commands**: every method end to end through ``nasforge search`` on the device, with tiny
   budgets (pass/fail and seconds): DARTS (argmax), DARTS-PT and fixed-alpha PT on NB201,
   SPOS with its evolution, PGNAS on NB201 and on the multi-branch ResNet, the RL controller
   (children trained from scratch), random search with the train evaluator, SPOS on the
   ShuffleNet space, DARTS-PT on the DARTS CNN space (C=4, 5 cells, 16x16: it had selected 17
   of its 28 edges after 120 s); then ``nasforge train`` on a GPU search's best cell and the
   reuse of a GPU-trained supernet by a run on the CPU (``supernet_from``, ``device: cpu``);
2. **steps**: a DARTS weight step (softmax(alpha), forward, cross-entropy, backward, clip, SGD)
   of the NB201 supernet at NB201's search size (C=16, N=5, 32x32) at batch 64 and 256, and of
   the DARTS space's (C=16, 6 cells, batch 64): ours eager (fused cells, channels-last), in
   the contiguous layout, edge by edge, and compiled (``compile: true``: static form, CUDA
   graphs), beside xautodl's DARTS-V1 supernets
   (NB201's authors' library, when installed), in one process, interleaved, synchronized;
   the peak GPU memory of each; ratios to xautodl;
3. **epoch**: one full-size NB201 DARTS epoch (C=16, N=5, the 50,000 CIFAR-10 training images
   in NB201's halves at 32x32, batch 64), built by the config as the CLI builds it and trained
   by the run's own trainer: the first epoch (with compilation) and a second one.

Writes ``benchmarks/results/gpu.json`` and ``gpu.md`` (a markdown table). ``--dry-run`` runs
every path on the CPU at toy sizes in about a minute (a generated 10-class JPEG archive
instead of CIFAR-10; compilation with the "aot_eager" backend), as the test suite does.

    python benchmarks/gpu.py --data .gpu/data/cifar10-jpeg.tar.gz     # on the GPU machine
    python benchmarks/gpu.py --dry-run                                # anywhere
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peers
import torch
from common import REPO, RESULTS, nb201_table_path, setup_logging, write_json
from stepping import Trainer, interleaved
from torch import nn

from nasforge.config import load_config
from nasforge.run.components import build_components
from nasforge.run.oneshot import train_supernet
from nasforge.runtime import Runtime
from nasforge.supernet.darts import DartsSupernet
from nasforge.supernet.nb201 import NB201Supernet
from nasforge.task import Shape
from nasforge.trainer import compiled


@dataclass(frozen=True)
class Sizes:
    """What a run measures: the GPU's sizes, or toy ones for the dry run."""

    device: str
    train_size: int  # images per command's task
    nb201: tuple[int, int, int]  # C, N, image side of the step benchmark
    darts: tuple[int, int, int]  # C, cells, image side
    batches: tuple[int, ...]
    reps: int
    steps_per_rep: int
    epoch_images: int | None  # None: all 50,000
    epoch_space: tuple[int, int, int]  # C, N, side of the full-size epoch
    compile_backend: str
    timeout: int  # seconds per command
    parallel: int  # commands run at once
    cnn: tuple[str, ...]  # the DARTS CNN space's size for DARTS-PT on it
    compile_darts: bool  # compile the DARTS space's supernet in the step benchmark


GPU = Sizes("cuda", 2000, (16, 5, 32), (16, 6, 32), (64, 256), 10, 10, None, (16, 5, 32),
            "inductor", 150, 4, ("task.train_size=4000", "strategy.max_batches=5"), True)
DRY = Sizes("cpu", 200, (4, 1, 16), (4, 3, 16), (8, 16), 2, 1, 200, (4, 1, 16), "aot_eager",
            240, 2, ("space.C=2", "space.layers=3", "selection.finetune_epochs=0",
                     "selection.valid_batches=1"), False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="every path, toy sizes, CPU")
    parser.add_argument("--data", help="the CIFAR-10 JPEG archive (default: ../shared's)")
    parser.add_argument("--out", default=str(RESULTS / "gpu.json"))
    parser.add_argument("--budget", type=float, default=330.0,
                        help="seconds for everything; a section that would not fit is skipped")
    parser.add_argument("--only", nargs="*", choices=["commands", "steps", "epoch"])
    args = parser.parse_args()
    setup_logging()
    sizes = DRY if args.dry_run else GPU
    clock = Budget(args.budget)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        data = make_archive(work) if args.dry_run else Path(
            args.data or REPO.parent / "shared/data/cifar10/cifar10-jpeg.tar.gz").absolute()
        env = run_environment(work)
        results: dict[str, Any] = {"dry_run": args.dry_run, "device": device_name(sizes)}
        sections: dict[str, Callable[[], Any]] = {
            "commands": lambda: run_commands(sizes, data, work, env, clock),
            "steps": lambda: step_speeds(sizes, clock),
            "epoch": lambda: full_epoch(sizes, data, env, clock),
        }
        for name, run in sections.items():
            if args.only and name not in args.only:
                continue
            results[name] = run()
            write_json(Path(args.out), results)  # partial results survive a lost lease
    Path(args.out).with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    failed = [c for c in results.get("commands", []) if not c["passed"]]
    sys.exit(1 if failed else 0)


class Budget:
    """The wall-clock budget of the whole run."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def device_name(sizes: Sizes) -> str:
    if sizes.device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "cpu"


def run_environment(work: Path) -> dict[str, str]:
    """The commands' environment: the NB201 table, a fresh data cache, passive OpenMP."""
    return {**os.environ, "NASFORGE_NB201": str(nb201_table_path()),
            "NASFORGE_CACHE": str(work / "cache"), "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def make_archive(work: Path, per_class: int = 24, side: int = 32) -> Path:
    """A CIFAR-10-shaped JPEG archive (``train/<class>/*.jpg``, ``test/<class>/*.jpg``, 10
    classes) of smooth random images: the dry run's stand-in for CIFAR-10."""
    import tarfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root = work / "archive"
    for split, count in (("train", per_class), ("test", per_class // 4)):
        for cls in range(10):
            folder = root / split / f"class{cls}"
            folder.mkdir(parents=True)
            base = rng.integers(0, 255, (4, 4, 3))
            for i in range(count):
                small = np.clip(base + rng.normal(0, 40, (4, 4, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(small).resize((side, side)).save(folder / f"{i}.jpg")
    archive = work / "tiny-cifar10.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(root / split, arcname=split)
    return archive


def commands(sizes: Sizes, data: Path, work: Path) -> list[tuple[str, list[str]]]:
    """(name, nasforge arguments) of every method's run, in order (later ones use earlier
    runs' directories)."""
    runs = work / "runs"
    task = [f"task.root={data}", f"task.train_size={sizes.train_size}", "task.batch_size=50"]
    on = [f"device={sizes.device}"]
    oneshot = ["strategy.epochs=1", "strategy.max_batches=4"]
    pt = ["selection.finetune_epochs=1", "selection.valid_batches=2"]

    def search(name: str, config: str, *sets: str) -> tuple[str, list[str]]:
        args = ["search", f"configs/{config}", "--out", str(runs / name)]
        return name, args + [a for s in (*task, *on, *sets) for a in ("--set", s)]

    return [
        search("darts", "darts_nb201_cifar10.yaml", *oneshot),
        search("darts_pt", "dartspt_nb201_cifar10.yaml", *oneshot, *pt),
        search("fixed_alpha_pt", "fixedpt_nb201_cifar10.yaml", *oneshot, *pt),
        search("spos", "spos_nb201_cifar10.yaml", *oneshot, "selection.recalibration_batches=2",
               "selection.valid_batches=2", "selection.strategy.population=6",
               "selection.strategy.generations=2", "selection.strategy.top_k=3",
               "selection.strategy.mutation=3", "selection.strategy.crossover=3"),
        search("pgnas", "pgnas_nb201_cifar10.yaml", *oneshot, "selection.candidates=10",
               "selection.valid_batches=2"),
        search("pgnas_resnet", "pgnas_resnet_cifar10.yaml", *oneshot,
               "selection.candidates=10", "selection.valid_batches=2"),
        search("rl_controller", "rl_macro_cifar10.yaml", "budget.trials=2", "evaluator.epochs=1",
               "strategy.batch=2"),
        search("random_train", "proxy_cifar10.yaml", "budget.trials=2", "evaluator.epochs=1"),
        search("dartspt_cnn", "dartspt_s2_cifar10.yaml", "space.space_variant=darts", *oneshot,
               *pt, *sizes.cnn),
        ("train_best", ["train", str(runs / "darts_pt" / "best.json"), "--epochs", "1",
                        "--out", str(runs / "retrained")]),
        search("reuse_on_cpu", "dartspt_nb201_cifar10.yaml", *oneshot, *pt, "device=cpu",
               f"supernet_from={runs / 'darts_pt'}"),
    ]


DEPENDENT = ("train_best", "reuse_on_cpu")  # they read the darts_pt run's directory


def run_commands(sizes: Sizes, data: Path, work: Path, env: dict[str, str], clock: Budget
                 ) -> list[dict[str, Any]]:
    """Every command, ``sizes.parallel`` at a time (the ones reading another run's directory
    after it); each with its pass/fail, seconds and last error line."""
    from concurrent.futures import ThreadPoolExecutor

    os.environ.update({k: env[k] for k in ("NASFORGE_CACHE", "NASFORGE_NB201")})
    from nasforge.data.cifar import read_cifar10

    read_cifar10(str(data), None)  # decoded once into the cache, not by every command
    threads = max(1, (os.cpu_count() or 1) // sizes.parallel)  # CPU: a share of the cores
    env = {**env, "OMP_NUM_THREADS": str(threads)}
    todo = commands(sizes, data, work)
    first = [c for c in todo if c[0] not in DEPENDENT]
    then = [c for c in todo if c[0] in DEPENDENT]
    with ThreadPoolExecutor(sizes.parallel) as pool:
        out = list(pool.map(lambda c: _command(*c, sizes, env, clock), first))
        out += list(pool.map(lambda c: _command(*c, sizes, env, clock), then))
    return out


def _command(name: str, args: list[str], sizes: Sizes, env: dict[str, str], clock: Budget
             ) -> dict[str, Any]:
    if clock.left() < 30:
        return {"name": name, "passed": False, "seconds": 0.0, "error": "no time left"}
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "nasforge", *args], cwd=REPO, env=env,
                              capture_output=True, text=True,
                              timeout=min(sizes.timeout, clock.left()))
        passed = proc.returncode == 0
        error = "" if passed else " ".join(proc.stderr.strip().splitlines()[-1:])
    except subprocess.TimeoutExpired:
        passed, error = False, "timed out"
    seconds = time.perf_counter() - start
    print(f"{name}: {'pass' if passed else 'FAIL'} in {seconds:.1f} s {error}", flush=True)
    return {"name": name, "passed": passed, "seconds": round(seconds, 1), "error": error}


class Ours(nn.Module):
    """Our supernet as the step benchmark drives it: its forward as the trainer runs it
    (compiled, in the static form, for the compiled variant)."""

    def __init__(self, net: NB201Supernet | DartsSupernet, runtime: Runtime) -> None:
        super().__init__()
        self.net = net
        self.forward_fn = compiled(net, runtime)

    def set_weights(self, w: torch.Tensor) -> None:
        self.net.set_weights(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_fn(x)  # type: ignore[no-any-return]


def variants(kind: str, sizes: Sizes, runtime: Runtime) -> dict[str, Callable[[], nn.Module]]:
    """Builders of the networks compared on ``kind`` ("nb201" or "darts")."""
    c, depth, side = sizes.nb201 if kind == "nb201" else sizes.darts
    shape = Shape((3, side, side), 10)
    fast = Runtime(runtime.device, compile=True, compile_mode=runtime.compile_mode,
                   compile_backend=sizes.compile_backend)

    def ours(fused: bool, rt: Runtime, layout: bool = True) -> Callable[[], nn.Module]:
        def make() -> nn.Module:
            torch.manual_seed(0)
            net = NB201Supernet(shape, C=c, N=depth, fused=fused, channels_last=layout) \
                if kind == "nb201" else DartsSupernet(shape, C=c, layers=depth, fused=fused,
                                                      channels_last=layout)
            return Ours(runtime.place(net), rt)  # type: ignore[arg-type]
        return make

    out = {"ours": ours(True, runtime), "ours contiguous": ours(True, runtime, False),
           "ours edge by edge": ours(False, runtime)}
    if kind == "nb201" or sizes.compile_darts:
        out["ours compiled"] = ours(True, fast)
    if peers.xautodl_available():
        if kind == "nb201":
            out["xautodl DARTS-V1"] = lambda: peers.xautodl_nb201(c, depth, 10).to(runtime.device)
        else:
            out["xautodl DARTS-V1"] = lambda: peers.xautodl_darts(c, depth // 3, 10).to(
                runtime.device)
    return out


def step_speeds(sizes: Sizes, clock: Budget) -> list[dict[str, Any]]:
    """Per-step seconds (median of interleaved reps of ``steps_per_rep`` synchronized steps)
    and peak memory of every variant, per (space, batch)."""
    runtime = Runtime(torch.device(sizes.device),
                      compile_mode="reduce-overhead" if sizes.device == "cuda" else "default")
    rows = []
    for kind, batch in [("nb201", b) for b in sizes.batches] + [("darts", sizes.batches[0])]:
        if clock.left() < 90:
            rows.append({"space": kind, "batch": batch, "skipped": "no time left"})
            continue
        rows.append(_measure(kind, batch, sizes, runtime))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _measure(kind: str, batch: int, sizes: Sizes, runtime: Runtime) -> dict[str, Any]:
    side = (sizes.nb201 if kind == "nb201" else sizes.darts)[2]
    gen = torch.Generator().manual_seed(0)
    data = (torch.randn(batch, 3, side, side, generator=gen).to(runtime.device),
            torch.randint(0, 10, (batch,), generator=gen).to(runtime.device))
    trainers, build_s, memory = {}, {}, {}
    for name, make in variants(kind, sizes, runtime).items():
        start = time.perf_counter()
        model = make()
        peer = isinstance(model, peers.Peer)
        params = list(model.weight_parameters()) if peer else None  # type: ignore[operator]
        shape = tuple(model.net.alpha_shape) if not peer else (1, 1)  # type: ignore[union-attr]
        fast = runtime.optimizer_options() if not peer else {}  # ours: as the library steps
        trainers[name] = Trainer(model, shape, data, params, fast)
        memory[name] = _first_steps(trainers[name], runtime)
        build_s[name] = time.perf_counter() - start  # with compilation and warm-up steps
    times = interleaved({n: _steps(t, sizes.steps_per_rep, runtime) for n, t in trainers.items()},
                        sizes.reps, warmup=0)
    result: dict[str, Any] = {"space": kind, "batch": batch}
    for name, seconds in times.items():
        per_step = sorted(seconds)[len(seconds) // 2] / sizes.steps_per_rep
        result[name] = {"step_ms": 1000 * per_step, "samples_per_s": batch / per_step,
                        "peak_mib": memory[name], "build_and_warmup_s": build_s[name]}
    peer = result.get("xautodl DARTS-V1")
    if peer:
        for name in trainers:
            if "ours" in name:
                result[name]["speedup_vs_xautodl"] = peer["step_ms"] / result[name]["step_ms"]
                if peer["peak_mib"] and result[name]["peak_mib"]:
                    result[name]["memory_vs_xautodl"] = result[name]["peak_mib"] / peer["peak_mib"]
    return result


def _first_steps(trainer: Trainer, runtime: Runtime) -> float | None:
    """Three warm-up steps (compilation, CUDA-graph recording); the peak GPU memory of the
    last (None on the CPU)."""
    for _ in range(2):
        trainer.step()
    if not runtime.is_cuda:
        trainer.step()
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    trainer.step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def _steps(trainer: Trainer, count: int, runtime: Runtime) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            trainer.step_async()
        if runtime.is_cuda:
            torch.cuda.synchronize()
    return run


def full_epoch(sizes: Sizes, data: Path, env: dict[str, str], clock: Budget
               ) -> dict[str, Any]:
    """Two epochs of the full-size NB201 DARTS search, built from the config as the CLI
    builds it and trained by the run's own loop."""
    if clock.left() < 60:
        return {"skipped": "no time left"}
    c, n, side = sizes.epoch_space
    sets = [f"space.C={c}", f"space.N={n}", f"task.size={side}", f"task.root={data}",
            "task.valid_fraction=0.5", "task.batch_size=64", "strategy.epochs=1",
            f"device={sizes.device}", f"task.train_size={sizes.epoch_images or 50000}"]
    os.environ.update({k: env[k] for k in ("NASFORGE_CACHE", "NASFORGE_NB201")})
    config = load_config(REPO / "configs" / "darts_nb201_cifar10.yaml", sets)
    start = time.perf_counter()
    parts = build_components(config)
    load_s = time.perf_counter() - start
    runtime = parts.runtime if sizes.device == "cuda" else Runtime(
        parts.runtime.device, compile=True, compile_backend=sizes.compile_backend)
    strategy = parts.strategy
    first = _timed(lambda: train_supernet(strategy, parts.task, device=runtime,  # type: ignore[arg-type]
                                          seed=config.seed), runtime)
    second = _timed(lambda: strategy.train_epoch(1), runtime)  # type: ignore[union-attr]
    images = len(parts.task.train)  # type: ignore[union-attr, arg-type]
    return {"train_images": images, "valid_images": len(parts.task.valid),  # type: ignore[union-attr, arg-type]
            "load_s": load_s, "first_epoch_s": first, "epoch_s": second,
            "compile": runtime.compile, "fifty_epochs_min": 50 * second / 60}


def _timed(fn: Callable[[], Any], runtime: Runtime) -> float:
    start = time.perf_counter()
    fn()
    if runtime.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def markdown(results: dict[str, Any]) -> str:
    lines = [f"GPU benchmark on {results['device']}" + (" (dry run)" if results["dry_run"]
                                                         else ""), ""]
    if "commands" in results:
        lines += ["| command | result | seconds |", "|---|---|---|"]
        lines += [f"| {c['name']} | {'pass' if c['passed'] else 'FAIL ' + c['error']} | "
                  f"{c['seconds']} |" for c in results["commands"]]
        lines.append("")
    if "steps" in results:
        lines += ["| space | batch | variant | step ms | samples/s | peak MiB | vs xautodl |",
                  "|---|---|---|---|---|---|---|"]
        for row in results["steps"]:
            for name, m in row.items():
                if isinstance(m, dict):
                    ratio = m.get("speedup_vs_xautodl")
                    lines.append(f"| {row['space']} | {row['batch']} | {name} | "
                                 f"{m['step_ms']:.1f} | {m['samples_per_s']:.0f} | "
                                 f"{m['peak_mib'] or '-'} | "
                                 f"{'-' if ratio is None else f'{ratio:.2f}x'} |")
        lines.append("")
    epoch = results.get("epoch")
    if epoch and "epoch_s" in epoch:
        lines.append(f"Full-size NB201 DARTS epoch ({epoch['train_images']} + "
                     f"{epoch['valid_images']} images): first {epoch['first_epoch_s']:.1f} s, "
                     f"then {epoch['epoch_s']:.1f} s (50 epochs: "
                     f"{epoch['fifty_epochs_min']:.1f} min)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
