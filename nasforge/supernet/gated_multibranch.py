"""PGNAS's gated supernet of the multi-branch ResNet space (``nasforge.spaces.multibranch``,
Zhou et al., AAAI 2020, Sec. 4.1): every branch at full width, one variational-dropout gate
on the middle channels of each branch, one drop probability per (block, kernel size)."""

from __future__ import annotations

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.registry import GATED_SUPERNETS
from nasforge.spaces.multibranch import Block, Branch, MultiBranchResNet, MultiBranchSpace
from nasforge.supernet.base import EdgeWeights, Supernet
from nasforge.supernet.gates import ChannelGate, GateBank
from nasforge.task import Shape


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
