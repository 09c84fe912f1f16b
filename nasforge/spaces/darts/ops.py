"""The candidate ops of the DARTS CNN space (Liu et al., ICLR 2019) and its robustness variants
S1-S4 (Zela et al., ICLR 2020), written once for 1D and 2D inputs.

Every factory has the signature ``(c_in, c_out, stride, dim, affine) -> nn.Module`` of
:mod:`nasforge.spaces.ops`. The table :data:`DARTS_OPS` uses DARTS's names, so genotypes read
as in the official code; it is separate from ``OPS`` because DARTS's ``skip_connect`` at stride 2
is a FactorizedReduce while NB201's is a 1x1 ReLUConvBN (both keep their published meaning).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.nn.layers import batch_norm, conv, max_pool
from nasforge.spaces.ops import Identity, OpFactory, Pooling, Zero


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: ReLU, two 1x1 stride-2 convs (the second on
    the input shifted by one pixel), concatenated, BN (DARTS's ``FactorizedReduce``).

    Note: the shifted input is zero-padded at the end, so odd sizes give ceil(n / 2) on both
    branches (the official code only works on even sizes; on even sizes the result is equal).
    """

    def __init__(self, c_in: int, c_out: int, dim: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of channels, got {c_out}")
        self.dim = dim
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = conv(dim, c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = conv(dim, c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = batch_norm(dim, c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[(slice(None), slice(None)) + (slice(1, None),) * self.dim]
        shifted = F.pad(shifted, (0, 1) * self.dim)  # back to the input's size
        out = torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1)  # (batch, c_out, ...)
        return self.bn(out)  # type: ignore[no-any-return]


class SepConv(nn.Sequential):
    """DARTS's separable conv: (ReLU, depthwise kxk stride s, 1x1, BN), then the same again at
    stride 1."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dim: int,
                 affine: bool = True) -> None:
        pad = (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            conv(dim, c_in, c_in, kernel, stride=stride, padding=pad, groups=c_in, bias=False),
            conv(dim, c_in, c_in, 1, padding=0, bias=False),
            batch_norm(dim, c_in, affine),
            nn.ReLU(inplace=False),
            conv(dim, c_in, c_in, kernel, stride=1, padding=pad, groups=c_in, bias=False),
            conv(dim, c_in, c_out, 1, padding=0, bias=False),
            batch_norm(dim, c_out, affine),
        )


class DilConv(nn.Sequential):
    """DARTS's dilated separable conv: ReLU, depthwise kxk with dilation 2 and stride s, 1x1,
    BN (once)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dim: int,
                 affine: bool = True, dilation: int = 2) -> None:
        pad = dilation * (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            conv(dim, c_in, c_in, kernel, stride=stride, padding=pad, dilation=dilation,
                 groups=c_in, bias=False),
            conv(dim, c_in, c_out, 1, padding=0, bias=False),
            batch_norm(dim, c_out, affine),
        )


class Noise(nn.Module):
    """S4's ``noise`` op (Zela et al., ICLR 2020): N(0, 1) noise of the output's shape (the
    input's shape, subsampled at stride 2). It carries no information about the input."""

    def __init__(self, stride: int, dim: int) -> None:
        super().__init__()
        self.stride, self.dim = stride, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = (slice(None), slice(None)) + (slice(None, None, self.stride),) * self.dim
        return torch.randn_like(x[index])


def _skip(c_in: int, c_out: int, stride: int, dim: int, affine: bool) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return Identity()
    return FactorizedReduce(c_in, c_out, dim, affine)


DARTS_OPS: dict[str, OpFactory] = {
    "none": lambda ci, co, s, d, a: Zero(ci, co, s, d),
    "noise": lambda ci, co, s, d, a: Noise(s, d),
    "max_pool_3x3": lambda ci, co, s, d, a: max_pool(d, 3, s, 1),
    # c_in == c_out in every DARTS cell, so this is a plain 3x3 average pool
    # (count_include_pad=False), exactly DARTS's
    "avg_pool_3x3": lambda ci, co, s, d, a: Pooling(ci, co, s, d, a),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda ci, co, s, d, a: SepConv(ci, co, 3, s, d, a),
    "sep_conv_5x5": lambda ci, co, s, d, a: SepConv(ci, co, 5, s, d, a),
    "dil_conv_3x3": lambda ci, co, s, d, a: DilConv(ci, co, 3, s, d, a),
    "dil_conv_5x5": lambda ci, co, s, d, a: DilConv(ci, co, 5, s, d, a),
}
POOLING_OPS = frozenset({"max_pool_3x3", "avg_pool_3x3"})


def make_darts_op(name: str, c_in: int, c_out: int, stride: int, dim: int,
                  affine: bool = True, pool_bn: bool = False) -> nn.Module:
    """One DARTS op. ``pool_bn`` adds DARTS's search-time BN (affine=False) after pooling."""
    op = DARTS_OPS[name](c_in, c_out, stride, dim, affine)
    if pool_bn and name in POOLING_OPS:
        op = nn.Sequential(op, batch_norm(dim, c_out, affine=False))
    return op
