"""Layers whose width and precision are set at run time: one weight tensor at the widest size,
a candidate uses its first channels (SPOS's channel-number search, Guo et al., ECCV 2020,
Sec. 3.4: "weight sharing... by slicing the largest weight tensor"), and optionally a
fake-quantized copy of the weights and inputs (SPOS's mixed-precision search, Sec. 3.4).

Fake quantization with the straight-through estimator (Bengio et al., 2013): the forward pass
sees values rounded to ``bits`` bits, the backward pass treats the rounding as identity.
Weights: symmetric, per tensor, scale max|w| / (2^(bits-1) - 1). Activations: unsigned when
non-negative (after ReLU), else symmetric, range the tensor's max |x| in this batch.
Note: the paper follows the quantisation of its baselines with learned clipping ranges; a
dynamic range keeps the proxy free of extra parameters. ``bits >= 32`` means full precision.

Every layer reports its multiply-adds to ``nasforge.nn.counting`` through ``macs``, so the
FLOPs of a built network are counted from the shapes it actually ran with.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

FULL_PRECISION = 32


def fake_quantize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``x`` rounded to ``bits`` bits in the forward pass, identity in the backward pass."""
    if bits >= FULL_PRECISION:
        return x
    # Tensor ops, not Python branches, so a traced (TorchScript) model keeps the rule.
    signed = (x.detach().min() < 0).to(x.dtype)
    levels = signed * max(2 ** (bits - 1) - 1, 1) + (1 - signed) * (2**bits - 1)
    scale = x.detach().abs().max().clamp_min(1e-8) / levels  # 1-bit signed: {-s, 0, s}
    rounded = torch.minimum(torch.maximum(torch.round(x / scale), -signed * levels), levels)
    return x + (rounded * scale - x).detach()


class SlimConv(nn.Module):
    """A bias-free convolution (1D or 2D) holding ``c_in x c_out`` weights that runs on the
    first ``x.shape[1]`` input channels and the first ``out`` output channels. Depthwise when
    ``depthwise`` (then the channel count follows the input). ``bits`` quantizes the weights
    and the input."""

    def __init__(self, dim: int, c_in: int, c_out: int, kernel: int, stride: int = 1,
                 depthwise: bool = False) -> None:
        super().__init__()
        self.dim, self.stride, self.padding = dim, stride, kernel // 2
        self.depthwise, self.kernel = depthwise, kernel
        shape = (c_out, 1 if depthwise else c_in) + (kernel,) * dim
        self.weight = nn.Parameter(torch.empty(shape))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.bits = self.bits_in = FULL_PRECISION

    def forward(self, x: torch.Tensor, out: int | None = None) -> torch.Tensor:
        c_in = x.shape[1]
        if self.depthwise:
            weight, groups = self.weight[:c_in], c_in
        else:
            weight, groups = self.weight[: out or self.weight.shape[0], :c_in], 1
        weight, x = fake_quantize(weight, self.bits), fake_quantize(x, self.bits_in)
        run = F.conv1d if self.dim == 1 else F.conv2d
        return run(x, weight, None, self.stride, self.padding, 1, groups)  # type: ignore[operator, no-any-return]

    def macs(self, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
        per_output = self.kernel**self.dim * (1 if self.depthwise else inputs[0].shape[1])
        return per_output * output[0].numel()


def running_stats_factor(momentum: float | None, batches: int) -> float:
    """The weight of the current batch in a batch norm's running statistics, as
    ``nn.BatchNorm`` computes it: ``momentum``, or when it is None the cumulative average
    (batch-norm recalibration), ``1 / batches`` with this batch counted."""
    return 1.0 / batches if momentum is None else momentum


class SlimBatchNorm(nn.BatchNorm1d):
    """Batch norm over the first ``x.shape[1]`` channels of its statistics and affine
    parameters (1D and 2D inputs alike: it normalises dimension 1)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:  # noqa: A002
        if input.dim() not in (3, 4):
            raise ValueError(f"expected a 3D or 4D input, got {input.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # the cumulative average needs the count (host read)
                factor = running_stats_factor(None, int(self.num_batches_tracked))
        use_batch = self.training or self.running_mean is None
        mean = None if self.running_mean is None else self.running_mean[:c]
        var = None if self.running_var is None else self.running_var[:c]
        weight = None if self.weight is None else self.weight[:c]
        bias = None if self.bias is None else self.bias[:c]
        return F.batch_norm(x, mean, var, weight, bias, use_batch, factor, self.eps)


def divisible(value: float, divisor: int = 1) -> int:
    """``value`` rounded to a positive multiple of ``divisor``."""
    return max(divisor, int(math.floor(value / divisor + 0.5)) * divisor)
