"""Candidate operations, written once for every cell space and the supernet.

Every op factory has the signature ``(c_in, c_out, stride, dim, affine) -> nn.Module`` so a
space lists op names and the supernet builds them all the same way. ``dim`` is 1 for sequences
(channels, length) and 2 for images (channels, height, width).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nasforge.nn.layers import avg_pool, batch_norm, conv


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (no bias) -> batch norm, as in NAS-Bench-201 and DARTS."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dim: int,
                 affine: bool = True, dilation: int = 1) -> None:
        padding = dilation * (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            conv(dim, c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                 bias=False),
            batch_norm(dim, c_out, affine),
        )


class Pooling(nn.Module):
    """3x3 average pooling; a 1x1 ReLUConvBN first when the channel count changes."""

    def __init__(self, c_in: int, c_out: int, stride: int, dim: int, affine: bool = True) -> None:
        super().__init__()
        self.preprocess = (
            None if c_in == c_out else ReLUConvBN(c_in, c_out, 1, 1, dim, affine)
        )
        self.pool = avg_pool(dim, 3, stride, 1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.pool(x)


class Zero(nn.Module):
    """The ``none`` op: outputs zeros (subsampled when the stride is 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int, dim: int) -> None:
        super().__init__()
        self.c_out, self.stride, self.dim = c_out, stride, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = (slice(None), slice(None)) + (slice(None, None, self.stride),) * self.dim
        out = x[index] * 0.0
        if out.shape[1] != self.c_out:
            out = out.new_zeros(out.shape[0], self.c_out, *out.shape[2:])
        return out


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ResNetBasicBlock(nn.Module):
    """The residual reduction block between NB201 stages: two 3x3 ReLUConvBN, the first with
    stride, plus an average-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, dim: int, affine: bool = True) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, dim, affine)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, dim, affine)
        self.downsample: nn.Module
        if stride == 2:
            self.downsample = nn.Sequential(
                # ceil_mode: on odd sizes the pool matches the stride-2 conv (7 -> 4, not 3);
                # even sizes are unchanged, so NB201's networks are exactly as published.
                avg_pool(dim, 2, 2, 0, ceil_mode=True),
                conv(dim, c_in, c_out, 1, stride=1, bias=False),
            )
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1, 1, dim, affine)
        else:
            self.downsample = Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


OpFactory = Callable[[int, int, int, int, bool], nn.Module]


def _skip(c_in: int, c_out: int, stride: int, dim: int, affine: bool) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return Identity()
    return ReLUConvBN(c_in, c_out, 1, stride, dim, affine)


OPS: dict[str, OpFactory] = {
    "none": lambda ci, co, s, d, a: Zero(ci, co, s, d),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda ci, co, s, d, a: ReLUConvBN(ci, co, 1, s, d, a),
    "nor_conv_3x3": lambda ci, co, s, d, a: ReLUConvBN(ci, co, 3, s, d, a),
    "avg_pool_3x3": lambda ci, co, s, d, a: Pooling(ci, co, s, d, a),
}


def make_op(name: str, c_in: int, c_out: int, stride: int, dim: int,
            affine: bool = True) -> nn.Module:
    return OPS[name](c_in, c_out, stride, dim, affine)
