"""A multi-branch ResNet space: PGNAS's SupNet-M (Zhou et al., AAAI 2020, Sec. 4.1), scaled
to small inputs.

Each residual block runs parallel branches, one per kernel size (3, 5, 7 by default):
conv k x k (stride) -> BN -> ReLU -> conv k x k -> BN, summed with the shortcut, then ReLU.
The architecture is the number of middle channels each branch keeps (0 removes the branch):
decision ``b{block}/k{kernel}`` with options 0 .. the block's width.

The gated supernet (``gated_supernet``, for ``strategy: pgnas``) puts one variational-dropout
gate on the middle channels of each branch (the input channels of its second convolution),
with one drop probability per (block, kernel size): the paper's per-(layer, kernel-size-group)
posterior. A sampled mask maps to the architecture that keeps, in every branch, the channels
the mask keeps; ``export`` slices exactly those channels' weights out of the supernet, so the
exported network computes the supernet's candidate.
Note: the paper gates every convolution's input channels; gating only the middle channels
keeps every candidate a plain multi-branch ResNet that ``nasforge train`` can rebuild.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ConfigError
from nasforge.nn.layers import batch_norm, conv, global_avg_pool
from nasforge.registry import GATED_SUPERNETS, SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.supernet.base import EdgeWeights, Supernet
from nasforge.supernet.gates import ChannelGate, GateBank
from nasforge.task import Shape


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
        self.gate: ChannelGate | None = None

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


@GATED_SUPERNETS.register("multibranch_resnet")
class GatedMultiBranch(Supernet):
    """Every branch at full width, its middle channels behind a gate; p is (blocks, kernels)."""

    def __init__(self, space: MultiBranchSpace, shape: Shape, init_p: float = 0.1,
                 tau: float = 0.2) -> None:
        super().__init__()
        self.space, self.shape = space, shape
        full = {i: {k: space.block_width(i) for k in space.kernels}
                for i in range(space.n_blocks)}
        self.net = MultiBranchResNet(shape, space.widths, space.blocks, list(full.values()))
        layers = [f"b{i:02d}" for i in range(space.n_blocks)]
        groups = [f"k{k}" for k in space.kernels]
        self.bank = GateBank(layers, groups, init_p, tau)
        self.arch_state = EdgeWeights(layers, [tuple(groups)] * len(layers))
        for i, block in enumerate(self.net.blocks):
            assert isinstance(block, Block)
            for g, k in enumerate(space.kernels):
                branch = block.branches[str(k)]
                assert isinstance(branch, Branch)
                width = space.block_width(i)
                branch.gate = ChannelGate(self.bank, i, g, units=width, fan_in=width,
                                          owner=branch.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]

    def candidate(self, masks: dict[tuple[int, int], torch.Tensor]
                  ) -> tuple[Architecture, dict[tuple[int, int], torch.Tensor]]:
        """A mask -> (the architecture keeping that many channels per branch, the mask)."""
        values = {self.space.label(i, k): int(masks[(i, g)].sum())
                  for i in range(self.space.n_blocks) for g, k in enumerate(self.space.kernels)}
        return Architecture(values), masks

    def to_architecture(self, edge_ops: dict[str, str]) -> Architecture:
        raise ConfigError("multibranch_resnet candidates come from masks (selection: posterior)")

    def export(self, arch: Architecture) -> nn.Module:
        """The standalone network of the current hard masks (which must keep ``arch``'s
        channel counts), the kept channels' weights sliced out of the supernet."""
        device, dtype = self.arch_state.valid.device, self.arch_state.valid.dtype
        model = self.space.build(arch, self.shape).to(device=device, dtype=dtype)
        masks = self.bank.masks
        source = dict(self.net.named_modules())
        for name, target in model.named_modules():
            if isinstance(target, Branch):
                i, k = int(name.split(".")[1]), int(name.split(".")[-1])
                kept = masks[(i, self.space.kernels.index(k))].bool().to(device)
                _copy_branch(source[name], target, kept)  # type: ignore[arg-type]
        own = model.state_dict()
        for key, value in self.net.state_dict().items():
            if ".branches." not in key and key in own:
                own[key] = value.clone()
        model.load_state_dict(own)
        return model


@torch.no_grad()
def _copy_branch(source: Branch, target: Branch, kept: torch.Tensor) -> None:
    """The kept middle channels: conv1's output rows, bn1's entries, conv2's input columns."""
    pairs = [("conv1.weight", (kept,)), ("bn1.weight", (kept,)), ("bn1.bias", (kept,)),
             ("bn1.running_mean", (kept,)), ("bn1.running_var", (kept,)),
             ("conv2.weight", (slice(None), kept))]
    src, dst = source.state_dict(), target.state_dict()
    for name, index in pairs:
        dst[name].copy_(src[name][index])
    for name in dst:
        if name.startswith("bn2."):
            dst[name].copy_(src[name])
