"""Parameter and FLOP counts. FLOPs are multiply-adds of convolutions and linear layers, the
convention of NAS-Bench-201 and most NAS papers. A custom layer counts itself with a method
``macs(inputs, output) -> int`` (e.g. nasforge.nn.slim)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int  # multiply-adds for one input sample


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass on one sample of ``input_shape`` (no batch dim)."""
    total = 0

    def on_conv(module: nn.Module, _inp: object, out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, (nn.Conv1d, nn.Conv2d))
        kernel = math.prod(module.kernel_size) * module.in_channels // module.groups
        total += kernel * out[0].numel()

    def on_linear(module: nn.Module, _inp: object, out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Linear)
        total += module.in_features * out[0].numel()

    def on_custom(module: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += int(module.macs(inp, out))  # type: ignore[operator]

    hooks = []
    for module in model.modules():
        if callable(getattr(module, "macs", None)):  # a layer that counts itself
            hooks.append(module.register_forward_hook(on_custom))
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            hooks.append(module.register_forward_hook(on_conv))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(on_linear))
    was_training = model.training
    model.eval()
    device, dtype = placement(model)
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device, dtype=dtype))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


def placement(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where the probe input must be: the device and dtype of the model's first floating
    tensor (a model on a GPU, or in float64, is counted where it is)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.float32


def measure(model: nn.Module, input_shape: tuple[int, ...]) -> Cost:
    return Cost(params=count_params(model), flops=count_flops(model, input_shape))
