"""The building blocks of the SPOS ShuffleNetV2 space (Guo et al., ECCV 2020, Sec. 4, Fig. 3),
written once: each unit is a list of layer specs that both the module builder and the
analytic FLOPs/params count read.

- ``shuffle3/5/7``: the ShuffleNetV2 unit (Ma et al., 2018): 1x1 conv -> k x k depthwise
  conv (the unit's stride) -> 1x1 conv on the main branch.
- ``xception``: the Xception-like unit: three (3x3 depthwise conv -> 1x1 conv) pairs.

A stride-1 unit splits its input into even and odd channels (channel shuffle then split, as
in the authors' code): the even half passes through, the odd half enters the main branch.
A stride-2 unit feeds its whole input to both the main branch and a projection branch
(k x k depthwise stride 2 -> 1x1). Outputs are concatenated. ``mid`` is the main branch's
inner width: the channel-number search scales it, and a supernet slices its widest weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from nasforge.nn.layers import batch_norm, conv, global_avg_pool
from nasforge.nn.slim import FULL_PRECISION, SlimBatchNorm, SlimConv

CHOICES = ("shuffle3", "shuffle5", "shuffle7", "xception")


@dataclass(frozen=True)
class ConvSpec:
    """One conv -> BN (-> ReLU) layer. ``sliced``: its output width is the unit's ``mid``."""

    c_in: int
    c_out: int
    kernel: int
    stride: int = 1
    depthwise: bool = False
    relu: bool = False
    sliced: bool = False


def unit_specs(kind: str, c_in: int, c_out: int, mid: int, stride: int
               ) -> tuple[list[ConvSpec], list[ConvSpec]]:
    """(projection branch, main branch) of one unit; the projection is empty at stride 1."""
    if kind not in CHOICES:
        raise ValueError(f"unknown ShuffleNet choice {kind!r}; choices: {list(CHOICES)}")
    passed = c_in if stride == 2 else c_in // 2  # channels the projection side outputs
    inp, out = (c_in if stride == 2 else c_in - passed), c_out - passed
    k = 3 if kind == "xception" else int(kind[-1])
    proj = [] if stride == 1 else [ConvSpec(c_in, c_in, k, stride, depthwise=True),
                                   ConvSpec(c_in, c_in, 1, relu=True)]
    if kind == "xception":
        main = [ConvSpec(inp, inp, 3, stride, depthwise=True),
                ConvSpec(inp, mid, 1, relu=True, sliced=True),
                ConvSpec(mid, mid, 3, depthwise=True),
                ConvSpec(mid, mid, 1, relu=True, sliced=True),
                ConvSpec(mid, mid, 3, depthwise=True),
                ConvSpec(mid, out, 1, relu=True)]
    else:
        main = [ConvSpec(inp, mid, 1, relu=True, sliced=True),
                ConvSpec(mid, mid, k, stride, depthwise=True),
                ConvSpec(mid, out, 1, relu=True)]
    return proj, main


class ConvBN(nn.Module):
    def __init__(self, spec: ConvSpec, dim: int, affine: bool = True) -> None:
        super().__init__()
        self.conv = SlimConv(dim, spec.c_in, spec.c_out, spec.kernel, spec.stride,
                             spec.depthwise)
        self.bn = SlimBatchNorm(spec.c_out, affine=affine)
        self.relu, self.sliced = spec.relu, spec.sliced

    def forward(self, x: torch.Tensor, mid: int) -> torch.Tensor:
        y = self.bn(self.conv(x, mid if self.sliced else None))
        return F.relu(y) if self.relu else y


class Unit(nn.Module):
    """One choice of a block. ``mid`` (<= the width built) and the bit widths are set at run
    time by a supernet; a standalone network keeps them as built. A supernet's units have
    batch norm without affine parameters (``affine=False``), as in the authors' supernet:
    the scale and shift learnt for one path would be wrong for the others."""

    def __init__(self, kind: str, c_in: int, c_out: int, mid: int, stride: int, dim: int,
                 bits: tuple[int, int] = (FULL_PRECISION, FULL_PRECISION),
                 affine: bool = True) -> None:
        super().__init__()
        proj, main = unit_specs(kind, c_in, c_out, mid, stride)
        self.stride, self.mid = stride, mid
        self.proj = nn.ModuleList(ConvBN(s, dim, affine) for s in proj)
        self.main = nn.ModuleList(ConvBN(s, dim, affine) for s in main)
        self.set_bits(*bits)

    def set_bits(self, weight_bits: int, activation_bits: int) -> None:
        for module in self.modules():
            if isinstance(module, SlimConv):
                module.bits, module.bits_in = weight_bits, activation_bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            passed, main = x[:, 0::2], x[:, 1::2]
        else:
            passed, main = x, x
            for layer in self.proj:
                passed = layer(passed, self.mid)
        for layer in self.main:
            main = layer(main, self.mid)
        return torch.cat([passed, main], 1)


@dataclass(frozen=True)
class Skeleton:
    """The fixed part: stem width and stride, stage widths and block counts, last conv."""

    stem: int
    stem_stride: int
    widths: tuple[int, ...]
    repeats: tuple[int, ...]
    last: int

    def blocks(self) -> list[tuple[int, int, int]]:
        """(c_in, c_out, stride) of every choice block in order."""
        out, c_in = [], self.stem
        for width, repeat in zip(self.widths, self.repeats, strict=True):
            for b in range(repeat):
                out.append((c_in, width, 2 if b == 0 else 1))
                c_in = width
        return out


class ShuffleNet(nn.Module):
    """Stem (3x3 conv, BN, ReLU), the choice blocks, 1x1 conv to
    ``last`` channels, global pooling, dropout 0.1, linear classifier. ``blocks`` are the
    modules of the choice blocks (a Unit each, or a supernet's choice block)."""

    def __init__(self, skeleton: Skeleton, in_channels: int, num_classes: int, dim: int,
                 blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv(dim, in_channels, skeleton.stem, 3,
                                       stride=skeleton.stem_stride, padding=1, bias=False),
                                  batch_norm(dim, skeleton.stem), nn.ReLU())
        self.features = nn.Sequential(*blocks)
        self.last = nn.Sequential(conv(dim, skeleton.widths[-1], skeleton.last, 1, bias=False),
                                  batch_norm(dim, skeleton.last), nn.ReLU())
        self.pool = global_avg_pool(dim)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(skeleton.last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.last(self.features(self.stem(x)))
        return self.classifier(self.dropout(self.pool(x).flatten(1)))  # type: ignore[no-any-return]
