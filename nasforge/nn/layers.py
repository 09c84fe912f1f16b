"""Pick the 1D or 2D version of a layer, so every op is written once for both."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


def conv(dim: int, *args: int, **kwargs: object) -> nn.Module:
    layer = _pick(dim, nn.Conv1d, nn.Conv2d)(*args, **kwargs)
    if _strided_pointwise(layer):  # the same layer, computed another way (see the class)
        layer = _pick(dim, SubsampledPointwiseConv1d, SubsampledPointwiseConv2d)(*args, **kwargs)
    return layer


def _strided_pointwise(layer: nn.Module) -> bool:
    return isinstance(layer, (nn.Conv1d, nn.Conv2d)) and set(layer.kernel_size) == {1} \
        and layer.padding in ((0,), (0, 0)) and max(layer.stride) > 1


class _SubsampledPointwise:
    """A 1x1 convolution with stride s reads every s-th position only: take those, then
    convolve with stride 1. The same numbers, parameters and state dict as the strided layer;
    the reason is a defect of the CPU build of torch 2.13 (oneDNN 3.12, AVX2): the weight
    gradient of a strided 1x1 convolution in the channels-last format, with fewer than 8 input
    channels, writes outside its buffer (heap corruption: garbage gradients, or an abort),
    which DARTS's FactorizedReduce meets in small supernets (tests/unit/nn/test_layers.py)."""

    stride: tuple[int, ...]
    weight: torch.Tensor
    bias: torch.Tensor | None
    dilation: tuple[int, ...]
    groups: int

    def _subsampled(self, x: torch.Tensor) -> torch.Tensor:
        return x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in self.stride)]


class SubsampledPointwiseConv1d(_SubsampledPointwise, nn.Conv1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(self._subsampled(x), self.weight, self.bias, 1, 0, self.dilation,
                        self.groups)


class SubsampledPointwiseConv2d(_SubsampledPointwise, nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self._subsampled(x), self.weight, self.bias, 1, 0, self.dilation,
                        self.groups)


def batch_norm(dim: int, channels: int, affine: bool = True) -> nn.Module:
    return _pick(dim, nn.BatchNorm1d, nn.BatchNorm2d)(channels, affine=affine)


def avg_pool(dim: int, kernel: int, stride: int, padding: int = 0, **kwargs: object) -> nn.Module:
    return _pick(dim, nn.AvgPool1d, nn.AvgPool2d)(kernel, stride, padding, **kwargs)


def max_pool(dim: int, kernel: int, stride: int, padding: int = 0) -> nn.Module:
    return _pick(dim, nn.MaxPool1d, nn.MaxPool2d)(kernel, stride, padding)


def global_avg_pool(dim: int) -> nn.Module:
    return _pick(dim, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)(1)


def _pick(dim: int, one: type, two: type) -> type:
    if dim == 1:
        return one
    if dim == 2:
        return two
    raise ValueError(f"only 1D and 2D inputs are supported, got dim={dim}")
