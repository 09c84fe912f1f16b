"""The plain NB201 supernet reference of ``supernet_speed.py``: every edge computes all five
ops, ``none`` included (``x * 0``), and sums ``w_o * op_o(x)`` -- the naive DARTS/NB201 code,
written independently of nasforge's ops. It shares the NB201 skeleton (stem, reduction blocks,
classifier) and, for the correctness check, the weights (same parameter names) of our
supernet."""

from __future__ import annotations

import torch
from torch import nn

from nasforge.spaces.nb201 import EDGES, NODES, NB201Network, edge_label
from nasforge.task import Shape


class PlainZero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class PlainPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def plain_relu_conv_bn(c: int, k: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, 1, (k - 1) // 2, bias=False),
                         nn.BatchNorm2d(c, affine=False))


class PlainMixedOp(nn.Module):
    """Every op computed, ``none`` included: ``sum_o w_o * op_o(x)``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList([PlainZero(), nn.Identity(), plain_relu_conv_bn(c, 1),
                                  plain_relu_conv_bn(c, 3), PlainPool()])

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return sum(w[i] * op(x) for i, op in enumerate(self.ops))  # type: ignore[return-value]


class PlainCell(nn.Module):
    def __init__(self, weights: dict[str, torch.Tensor], c: int) -> None:
        super().__init__()
        self.weights = weights  # shared dict, so set_weights reaches every cell
        self.edges = nn.ModuleDict({edge_label(*e): PlainMixedOp(c) for e in EDGES})
        self.index = {edge_label(*e): i for i, e in enumerate(EDGES)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights["w"]
        nodes = [x]
        for to in range(1, NODES):
            nodes.append(sum(self.edges[edge_label(to, src)](
                nodes[src], w[self.index[edge_label(to, src)]]) for src in range(to)))
        return nodes[-1]


class PlainSupernet(nn.Module):
    def __init__(self, shape: Shape, c: int, n: int, channels_last: bool = False) -> None:
        super().__init__()
        self.weights: dict[str, torch.Tensor] = {"w": torch.full((len(EDGES), 5), 0.2)}
        self.net = NB201Network(lambda ch: PlainCell(self.weights, ch), shape, c, n)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def set_weights(self, w: torch.Tensor) -> None:
        self.weights["w"] = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)  # type: ignore[no-any-return]
