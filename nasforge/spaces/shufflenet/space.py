"""The SPOS ShuffleNetV2 choice-block space (Guo et al., ECCV 2020, Sec. 4), with its
channel-number and mixed-precision extensions (Sec. 3.4).

20 choice blocks in 4 stages (4, 4, 8, 4; the first block of each stage has stride 2) on the
ShuffleNetV2 skeleton (stage widths 64, 160, 320, 640, stem 16, last conv 1024, all times
``width_mult``). Decisions per block ``b{i:02d}``:

- ``op``: shuffle3, shuffle5, shuffle7 or xception (see nasforge.spaces.shufflenet.blocks);
- ``width`` (when ``channel_scales`` has more than one entry): the main branch's inner width
  as a scale of its base (half the block's output width; the paper's scales 0.2 .. 2.0);
- ``wbits`` and ``abits`` (when ``bits`` has more than one entry): the block's weight and
  activation bit widths (32 = full precision). Stem, last conv and classifier stay full
  precision, as is usual in mixed-precision search.

Small inputs: ``stem_downsample`` ("auto") is ImageNet's x2 (a stride-2 stem conv, then the
four stride-2 stages: 224 -> 7) for inputs of at least 128 pixels a side, else x1
(CIFAR-style), so 32x32 and 1D inputs keep resolution for the four stages.
``cost`` is exact and analytic (no network built): multiply-adds of every conv and the
classifier, and every parameter (conv, BN, classifier); ``bitops`` weighs each block's
multiply-adds by its bit widths, the budget used for mixed-precision search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ConfigError
from nasforge.nn.counting import Cost
from nasforge.nn.slim import FULL_PRECISION, divisible
from nasforge.registry import SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.shufflenet.blocks import (
    CHOICES,
    ConvSpec,
    ShuffleNet,
    Skeleton,
    Unit,
    unit_specs,
)
from nasforge.task import Shape

BASE_WIDTHS = (64, 160, 320, 640)
BASE_REPEATS = (4, 4, 8, 4)


@SPACES.register("shufflenet")
class ShuffleNetSpace(SearchSpace):
    """See the module docstring."""

    name = "shufflenet"

    def __init__(self, width_mult: float = 1.0, repeats: Sequence[int] = BASE_REPEATS,
                 channel_scales: Sequence[float] = (1.0,), bits: Sequence[int] = (32,),
                 choices: Sequence[str] = CHOICES, stem_downsample: str | int = "auto") -> None:
        self.width_mult, self.repeats = float(width_mult), tuple(int(r) for r in repeats)
        self.channel_scales = tuple(float(s) for s in channel_scales)
        self.bits, self.choices = tuple(int(b) for b in bits), tuple(choices)
        self.stem_downsample = stem_downsample
        self._check()
        self._decisions = tuple(self._block_decisions(i) for i in range(self.n_blocks))

    def _check(self) -> None:
        if not self.width_mult > 0 or len(self.repeats) != 4 or min(self.repeats) < 1:
            raise ConfigError("shufflenet needs width_mult > 0 and 4 stage repeats >= 1")
        if not self.channel_scales or min(self.channel_scales) <= 0:
            raise ConfigError(f"shufflenet channel_scales must be positive numbers, got "
                              f"{list(self.channel_scales)}")
        if not self.bits or any(b < 1 or b > FULL_PRECISION for b in self.bits):
            raise ConfigError(f"shufflenet bits must be in 1..32, got {list(self.bits)}")
        unknown = sorted(set(self.choices) - set(CHOICES))
        if unknown or not self.choices:
            raise ConfigError(f"unknown shufflenet choice {unknown}; choices: {list(CHOICES)}")
        if len(set(self.channel_scales)) != len(self.channel_scales) or \
                len(set(self.bits)) != len(self.bits):
            raise ConfigError("shufflenet channel_scales and bits must not repeat a value")
        if self.stem_downsample not in ("auto", 1, 2):
            raise ConfigError("shufflenet stem_downsample must be 'auto', 1 or 2")

    @property
    def n_blocks(self) -> int:
        return sum(self.repeats)

    def _block_decisions(self, i: int) -> list[Categorical]:
        out = [Categorical(f"b{i:02d}/op", list(self.choices))]
        if len(self.channel_scales) > 1:
            out.append(Categorical(f"b{i:02d}/width", list(self.channel_scales)))
        if len(self.bits) > 1:
            out += [Categorical(f"b{i:02d}/wbits", list(self.bits)),
                    Categorical(f"b{i:02d}/abits", list(self.bits))]
        return out

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return tuple(d for block in self._decisions for d in block)

    def options(self) -> dict[str, Any]:
        return {"width_mult": self.width_mult, "repeats": list(self.repeats),
                "channel_scales": list(self.channel_scales), "bits": list(self.bits),
                "choices": list(self.choices), "stem_downsample": self.stem_downsample}

    # -- the architecture, block by block ---------------------------------------------------

    def skeleton(self, shape: Shape) -> Skeleton:
        down = self.stem_downsample
        if down == "auto":
            down = 2 if min(shape.input_shape[1:]) >= 128 else 1
        w = self.width_mult
        return Skeleton(stem=divisible(16 * w, 4), stem_stride=int(down),
                        widths=tuple(divisible(c * w, 4) for c in BASE_WIDTHS),
                        repeats=self.repeats, last=divisible(1024 * w, 4))

    def mid(self, c_out: int, scale: float) -> int:
        return divisible(c_out // 2 * scale)

    def block(self, arch: Architecture, i: int) -> tuple[str, float, int, int]:
        """(op, width scale, weight bits, activation bits) of block ``i``."""
        def get(name: str, default: Any) -> Any:
            return arch.get(f"b{i:02d}/{name}", default)
        return (str(get("op", None)), float(get("width", self.channel_scales[0])),
                int(get("wbits", self.bits[0])), int(get("abits", self.bits[0])))

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        skeleton = self.skeleton(shape)
        units = []
        for i, (c_in, c_out, stride) in enumerate(skeleton.blocks()):
            op, scale, wbits, abits = self.block(self.validate(arch), i)
            units.append(Unit(op, c_in, c_out, self.mid(c_out, scale), stride, shape.dim,
                              (wbits, abits)))
        return ShuffleNet(skeleton, shape.input_shape[0], shape.num_classes, shape.dim, units)

    # -- exact costs without building --------------------------------------------------------

    def cost(self, arch: Architecture, shape: Shape) -> Cost:
        flops, params, _ = self._count(self.validate(arch), shape)
        return Cost(params=params, flops=flops)

    def bitops(self, arch: Architecture, shape: Shape) -> int:
        """Sum over convs of multiply-adds x weight bits x activation bits (full-precision
        layers at 32 x 32)."""
        return self._count(self.validate(arch), shape)[2]

    def _count(self, arch: Architecture, shape: Shape) -> tuple[int, int, int]:
        skeleton, dim = self.skeleton(shape), shape.dim
        size = list(shape.input_shape[1:])
        full = FULL_PRECISION**2
        flops, params = _conv_cost(ConvSpec(shape.input_shape[0], skeleton.stem, 3,
                                            skeleton.stem_stride), size, dim)
        size = _out_size(size, 3, skeleton.stem_stride)
        bitops = flops * full
        for i, (c_in, c_out, stride) in enumerate(skeleton.blocks()):
            op, scale, wbits, abits = self.block(arch, i)
            for branch in unit_specs(op, c_in, c_out, self.mid(c_out, scale), stride):
                at = size
                for spec in branch:
                    f, p = _conv_cost(spec, at, dim)
                    flops, params, bitops = flops + f, params + p, bitops + f * wbits * abits
                    at = _out_size(at, spec.kernel, spec.stride)
            size = _out_size(size, 3, stride)
        f, p = _conv_cost(ConvSpec(skeleton.widths[-1], skeleton.last, 1), size, dim)
        head = skeleton.last * shape.num_classes
        flops, params = flops + f + head, params + p + head + shape.num_classes
        return flops, params, bitops + (f + head) * full

    def latency(self, arch: Architecture, entries: Mapping[str, float]) -> float:
        """Latency from a lookup table (``constraints.latency_table``): ``base`` (stem, last
        conv, classifier) plus one entry per block, keyed ``"b{i:02d}/{op}/{width}"``
        (see ``benchmarks/shufflenet_latency.py``, which measures such a table)."""
        total = entries.get("base", 0.0)
        for i in range(self.n_blocks):
            op, scale, _, _ = self.block(arch, i)
            key = f"b{i:02d}/{op}/{scale:g}"
            if key not in entries:
                raise ConfigError(f"latency table has no entry {key!r}")
            total += entries[key]
        return total


def _out_size(size: list[int], kernel: int, stride: int) -> list[int]:
    return [(n + 2 * (kernel // 2) - kernel) // stride + 1 for n in size]


def _conv_cost(spec: ConvSpec, size: list[int], dim: int) -> tuple[int, int]:
    """(multiply-adds, params) of a conv -> BN layer on an input of spatial ``size``."""
    fan_in = 1 if spec.depthwise else spec.c_in
    weights = spec.kernel**dim * fan_in * spec.c_out
    outputs = math.prod(_out_size(size, spec.kernel, spec.stride))
    return weights * outputs, weights + 2 * spec.c_out
