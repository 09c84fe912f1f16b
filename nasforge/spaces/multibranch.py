"""A multi-branch ResNet space: PGNAS's SupNet-M (Zhou et al., AAAI 2020, Sec. 4.1), scaled
to small inputs.

Each residual block runs parallel branches, one per kernel size (3, 5, 7 by default):
conv k x k (stride) -> BN -> ReLU -> conv k x k -> BN, summed with the shortcut, then ReLU.
The architecture is the number of middle channels each branch keeps (0 removes the branch):
decision ``b{block}/k{kernel}`` with options 0 .. the block's width.

The gated supernet (``nasforge.supernet.gated_multibranch``, for ``strategy: pgnas``) puts
one variational-dropout gate on the middle channels of each branch (the input channels of its
second convolution), with one drop probability per (block, kernel size): the paper's
per-(layer, kernel-size-group) posterior. A sampled mask maps to the architecture that keeps,
in every branch, the channels the mask keeps; ``export`` slices exactly those channels'
weights out of the supernet, so the exported network computes the supernet's candidate.
Note: the paper gates every convolution's input channels; gating only the middle channels
keeps every candidate a plain multi-branch ResNet that ``nasforge train`` can rebuild.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ConfigError
from nasforge.nn.layers import batch_norm, conv, global_avg_pool
from nasforge.registry import SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.task import Shape


class MiddleGate(Protocol):
    """A gate on a branch's middle channels, set by the gated supernet (``ChannelGate`` of
    ``nasforge.supernet.gates``; the space only calls it)."""

    def dropped(self) -> bool: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class Branch(nn.Module):
    def __init__(self, c_in: int, mid: int, c_out: int, kernel: int, stride: int,
                 dim: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = conv(dim, c_in, mid, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = batch_norm(dim, mid)
        self.relu = nn.ReLU()
        self.conv2 = conv(dim, mid, c_out, kernel, stride=1, padding=pad, bias=False)
        self.bn2 = batch_norm(dim, c_out)
        self.gate: MiddleGate | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None and self.gate.dropped():
            return torch.zeros((), device=x.device)  # every middle channel dropped
        mid = self.relu(self.bn1(self.conv1(x)))
        if self.gate is not None:
            mid = self.gate(mid)
        return self.bn2(self.conv2(mid))  # type: ignore[no-any-return]


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, mids: dict[int, int],
                 dim: int) -> None:
        super().__init__()
        self.branches = nn.ModuleDict({str(k): Branch(c_in, m, c_out, k, stride, dim)
                                       for k, m in mids.items() if m > 0})
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(conv(dim, c_in, c_out, 1, stride=stride, bias=False),
                                          batch_norm(dim, c_out))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.shortcut(x)
        for branch in self.branches.values():
            out = out + branch(x)
        return self.relu(out)  # type: ignore[no-any-return]


class MultiBranchResNet(nn.Module):
    """Stem (3x3 conv, BN, ReLU), ``len(stages)`` stages of ``blocks`` blocks (the first of
    each later stage strided), global pooling, linear classifier."""

    def __init__(self, shape: Shape, widths: list[int], blocks: int,
                 mids: list[dict[int, int]]) -> None:
        super().__init__()
        dim = shape.dim
        self.stem = nn.Sequential(conv(dim, shape.input_shape[0], widths[0], 3, padding=1,
                                       bias=False), batch_norm(dim, widths[0]), nn.ReLU())
        layers, c_in, index = [], widths[0], 0
        for stage, width in enumerate(widths):
            for b in range(blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(Block(c_in, width, stride, mids[index], dim))
                c_in, index = width, index + 1
        self.blocks = nn.Sequential(*layers)
        self.pool = global_avg_pool(dim)
        self.classifier = nn.Linear(c_in, shape.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.blocks(self.stem(x))).flatten(1))  # type: ignore[no-any-return]


@SPACES.register("multibranch_resnet")
class MultiBranchSpace(SearchSpace):
    """Branch widths of a multi-branch ResNet (see the module docstring)."""

    name = "multibranch_resnet"

    def __init__(self, C: int = 16, blocks: int = 2, stages: int = 3,
                 kernels: list[int] | None = None) -> None:
        kernels = list(kernels or [3, 5, 7])
        if C < 1 or blocks < 1 or stages < 1 or not kernels or any(
                k < 1 or k % 2 == 0 for k in kernels):
            raise ConfigError("multibranch_resnet needs C, blocks, stages >= 1 and odd kernels")
        self.C, self.blocks, self.stages, self.kernels = C, blocks, stages, kernels
        self.widths = [C * 2**s for s in range(stages)]
        self._decisions = tuple(
            Categorical(self.label(i, k), list(range(self.block_width(i) + 1)))
            for i in range(self.n_blocks) for k in kernels)

    @property
    def n_blocks(self) -> int:
        return self.blocks * self.stages

    def block_width(self, i: int) -> int:
        return self.widths[i // self.blocks]

    @staticmethod
    def label(block: int, kernel: int) -> str:
        return f"b{block:02d}/k{kernel}"

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return self._decisions

    def options(self) -> dict[str, Any]:
        return {"C": self.C, "blocks": self.blocks, "stages": self.stages,
                "kernels": list(self.kernels)}

    def mids(self, arch: Architecture) -> list[dict[int, int]]:
        return [{k: int(arch[self.label(i, k)]) for k in self.kernels}
                for i in range(self.n_blocks)]

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        return MultiBranchResNet(shape, self.widths, self.blocks, self.mids(self.validate(arch)))
