"""The SPOS ShuffleNetV2 supernet: every block holds its four choices at the widest channel
scale; a path sets, per block, the choice, the inner width (a prefix slice of the widest
weights, SPOS Sec. 3.4) and the bit widths.

``arch_state`` has one edge per block (its op choices), so the shared verbs work unchanged:
``set_path`` (single path: one choice per block), ``set_weights`` (weighted sum of the
choices, DARTS-style), masks and ``discretize``. Widths and bits are per-block settings of a
path; for weighted mode and for ``to_architecture`` they are the widest and the first bit
width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.registry import SUPERNETS
from nasforge.spaces.shufflenet.blocks import ShuffleNet, Unit
from nasforge.supernet.base import EdgeWeights, Supernet
from nasforge.task import Shape

if TYPE_CHECKING:
    from nasforge.spaces.shufflenet.space import ShuffleNetSpace


class ChoiceBlock(nn.Module):
    """The choices of one block; runs those the architecture state makes active."""

    def __init__(self, choices: list[Unit], state: EdgeWeights, index: int) -> None:
        super().__init__()
        self.choices = nn.ModuleList(choices)
        self.units = choices  # the same modules, typed (a plain list is not registered)
        self.state, self.index = [state], index  # a list: plain data, not a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.state[0]
        weights, active = state.effective[self.index], state.active[self.index]
        if state.single(self.index):  # known on the host: no wait for the device
            return self.choices[active[0]](x)  # type: ignore[no-any-return]  # single path
        out = [self.choices[i](x) * weights[i] for i in active]
        return torch.stack(out).sum(0)


class ShuffleNetSupernet(Supernet):
    def __init__(self, space: ShuffleNetSpace, shape: Shape) -> None:
        super().__init__()
        self.space, self.shape = space, shape
        skeleton = space.skeleton(shape)
        widest = max(space.channel_scales)
        labels = [f"b{i:02d}/op" for i in range(space.n_blocks)]
        self.arch_state = EdgeWeights(labels, [space.choices] * len(labels))
        blocks: list[ChoiceBlock] = []
        self.block_widths = [c_out for _, c_out, _ in skeleton.blocks()]
        for i, (c_in, c_out, stride) in enumerate(skeleton.blocks()):
            units = [Unit(op, c_in, c_out, space.mid(c_out, widest), stride, shape.dim,
                          affine=False) for op in space.choices]
            blocks.append(ChoiceBlock(units, self.arch_state, i))
        self.net = ShuffleNet(skeleton, shape.input_shape[0], shape.num_classes, shape.dim,
                              blocks)
        self.blocks: list[ChoiceBlock] = blocks  # the same modules, typed (plain list)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]

    def set_path(self, arch: Architecture) -> None:
        """One choice per block, with its width and bits."""
        super().set_path(arch)
        for i, block in enumerate(self.blocks):
            _, scale, wbits, abits = self.space.block(arch, i)
            for unit in block.units:
                unit.mid = self.space.mid(self.block_widths[i], scale)
                unit.set_bits(wbits, abits)

    def to_architecture(self, edge_ops: dict[str, str]) -> Architecture:
        values: dict[str, str | float | int] = dict(edge_ops)
        for decision in self.space.decisions:
            if not decision.label.endswith("/op"):
                values[decision.label] = (max(self.space.channel_scales)
                                          if decision.label.endswith("/width")
                                          else self.space.bits[0])
        return Architecture(values)

    def export(self, arch: Architecture) -> nn.Module:
        """The standalone network of ``arch``: each block's chosen unit, its weights the
        prefix slices of the supernet's (the same slices the path runs on). The blocks' batch
        norms keep their identity affine parameters (the supernet has none)."""
        model = self.space.build(arch, self.shape)
        source = self.net.state_dict()
        inherited = {}
        for key, value in model.state_dict().items():
            if self._source_key(arch, key) not in source:
                continue
            src = source[self._source_key(arch, key)]
            inherited[key] = src[tuple(slice(0, n) for n in value.shape)].clone()
        return self._inherit(model, inherited)

    def _source_key(self, arch: Architecture, key: str) -> str:
        parts = key.split(".")
        if parts[0] != "features":
            return key
        op = self.space.block(arch, int(parts[1]))[0]
        choice = self.space.choices.index(op)
        return ".".join([*parts[:2], "choices", str(choice), *parts[2:]])


@SUPERNETS.register("shufflenet")
def shufflenet_supernet(space: ShuffleNetSpace, shape: Shape) -> ShuffleNetSupernet:
    """Every choice at the widest width in one network."""
    return ShuffleNetSupernet(space, shape)
