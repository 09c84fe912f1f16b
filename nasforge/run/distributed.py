"""Data-parallel supernet training on torch.distributed (the DDP scheme: every process holds
the whole supernet, trains on its own shard of each epoch's batches, and gradients are
averaged across processes before every optimiser step, so all replicas stay identical).

Launch with ``nasforge search CONFIG --set distributed.nproc=N`` (N processes on this
machine) or with ``torchrun --nnodes ... --nproc_per_node ... -m nasforge search CONFIG``
(any number of machines; ranks come from torchrun's environment). Backend: gloo on CPU, NCCL
on GPU (each process takes the GPU of its local rank). Only rank 0 writes the run directory.

Architecture parameters (DARTS's alpha, PGNAS's drop probabilities) are ordinary parameters:
their gradients are averaged too, so they stay in sync. SPOS's sampled path is the same on
every rank (each rank's sampler has the same seed), or, with ``strategy.path_per_rank:
independent``, different per rank (then the unsampled ops of a rank count as zero gradient).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from nasforge.errors import ConfigError
from nasforge.runtime import Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batches: Iterable[T]) -> Iterator[T]:
        """This rank's batches: every ``world``-th one, starting at ``rank``. Ranks then see
        disjoint data; the last incomplete round is dropped so every rank takes as many
        steps (a rank that stepped more would wait forever in the gradient average)."""
        if not self.enabled:
            yield from batches
            return
        round_: list[T] = []
        for batch in batches:
            round_.append(batch)
            if len(round_) == self.world:
                yield round_[self.rank]
                round_ = []

    def average_gradients(self, params: Iterable[torch.nn.Parameter],
                          zero_fill: bool = False) -> None:
        """All-reduce and average the gradients. Parameters without a gradient are skipped
        (the same on every rank when the sampled path is shared), or, with ``zero_fill``,
        count as zeros (paths differ between ranks)."""
        if not self.enabled:
            return
        grads = []
        for p in params:
            if p.grad is None:
                if not zero_fill:
                    continue
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        self._average(grads)


    def average_buffers(self, module: torch.nn.Module) -> None:
        """Average the floating-point buffers (batch-norm running statistics), which each
        rank accumulated on its own shard, so the replicas end each epoch identical."""
        if not self.enabled:
            return
        self._average([b for b in module.buffers() if b.is_floating_point()])

    def _average(self, tensors: list[torch.Tensor]) -> None:
        """Average in place across ranks with ONE all-reduce over a flat buffer, not one per
        tensor (as DDP's buckets): a supernet has hundreds of small tensors, and per-call
        latency would dominate."""
        if not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


SINGLE = DistContext()


def from_environment(device: torch.device | None = None) -> DistContext:
    """The group torchrun (or ``launch``) set up in the environment, else a single process.
    The backend follows the device the run trains on (``device``; default: a GPU when there
    is one): NCCL on CUDA, gloo otherwise, so ``device: cpu`` on a GPU machine uses gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    rank = int(os.environ["RANK"])
    if not dist.is_initialized():
        on_gpu = torch.cuda.is_available() if device is None else device.type == "cuda"
        if on_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if on_gpu else "gloo")
    return DistContext(rank, world)


def runtime_for(context: DistContext, runtime: Runtime) -> Runtime:
    """Each replica of a CUDA run on the GPU of its local rank."""
    if runtime.is_cuda and context.enabled:
        gpu = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return dataclasses.replace(runtime, device=gpu)
    return runtime


def check_nproc(nproc: int, device: torch.device) -> None:
    """Replicas of a CUDA run take a GPU each; of a CPU run, a core each at least."""
    on_gpu = device.type == "cuda"
    limit = torch.cuda.device_count() if on_gpu else (os.cpu_count() or 1)
    if nproc < 1:
        raise ConfigError(f"distributed.nproc must be >= 1, got {nproc}")
    if nproc > limit:
        kind = "GPUs" if on_gpu else "CPU cores"
        raise ConfigError(f"distributed.nproc={nproc} is more than this machine's {limit} {kind}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def set_environment(rank: int, world: int, port: int) -> None:
    """What torchrun would set, for a process started by ``nasforge`` itself."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
