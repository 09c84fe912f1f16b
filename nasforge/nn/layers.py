"""Pick the 1D or 2D version of a layer, so every op is written once for both."""

from __future__ import annotations

from torch import nn


def conv(dim: int, *args: int, **kwargs: object) -> nn.Module:
    return _pick(dim, nn.Conv1d, nn.Conv2d)(*args, **kwargs)


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
