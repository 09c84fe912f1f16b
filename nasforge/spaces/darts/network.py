"""The DARTS network skeleton (Liu et al., ICLR 2019), shared by the standalone network and the
supernet: a 3x3 conv stem with 3C channels, ``layers`` cells with reduction cells (stride 2,
channels doubled) at layers // 3 and 2 * layers // 3, global pooling and a linear classifier.

A cell takes the outputs of the two previous cells: s0 (c_{k-2}) through a FactorizedReduce when
the previous cell reduced, else a 1x1 ReLUConvBN; s1 (c_{k-1}) through a 1x1 ReLUConvBN. Its 4
intermediate nodes 2..5 each sum ops on earlier states; the output concatenates nodes 2..5.

Note: no auxiliary head and no drop-path (the search and the proxy runs use neither).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nasforge.nn.layers import batch_norm, conv, global_avg_pool
from nasforge.spaces.darts.ops import FactorizedReduce, make_darts_op
from nasforge.spaces.ops import ReLUConvBN
from nasforge.task import Shape

CELL_TYPES = ("normal", "reduce")
NODES = (2, 3, 4, 5)  # intermediate nodes; 0 and 1 are the cell inputs
EDGES = tuple((to, src) for to in NODES for src in range(to))  # DARTS's edge order, 14
STEM_MULTIPLIER = 3

CellOps = dict[tuple[int, int], str]  # {(to, src): op}: the 8 edges of one cell


def node_edge(to: int, src: int) -> str:
    """An edge inside one cell, ``"3<-1"``."""
    return f"{to}<-{src}"


def reduction_layers(layers: int) -> tuple[int, int]:
    return layers // 3, 2 * layers // 3


class Preprocess(nn.Module):
    """The two cell inputs brought to ``c`` channels (and s0 to s1's resolution)."""

    def __init__(self, c_pp: int, c_p: int, c: int, reduction_prev: bool, dim: int,
                 affine: bool) -> None:
        super().__init__()
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_pp, c, dim, affine) if reduction_prev
            else ReLUConvBN(c_pp, c, 1, 1, dim, affine)
        )
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, dim, affine)


class DartsCell(Preprocess):
    """A standalone cell: two ops per node on the inputs the genotype chose. A ``none`` edge
    contributes zeros (DARTS never picks it, a user may)."""

    multiplier = len(NODES)

    def __init__(self, ops: CellOps, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool, dim: int) -> None:
        super().__init__(c_pp, c_p, c, reduction_prev, dim, affine=True)
        self.inputs = {to: sorted(src for (t, src) in ops if t == to) for to in NODES}
        self.edges = nn.ModuleDict({
            node_edge(to, src): make_darts_op(op, c, c, 2 if reduction and src < 2 else 1, dim)
            for (to, src), op in sorted(ops.items())
        })

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for to in NODES:
            a, b = (self.edges[node_edge(to, src)](states[src]) for src in self.inputs[to])
            states.append(a + b)
        return torch.cat(states[2:], dim=1)  # (batch, 4c, ...)


# make_cell(cell_type, c_pp, c_p, c, reduction_prev) -> a cell module with forward(s0, s1)
MakeCell = Callable[[str, int, int, int, bool], nn.Module]


class DartsNetwork(nn.Module):
    """DARTS's NetworkCIFAR around any cell (standalone or search)."""

    def __init__(self, make_cell: MakeCell, shape: Shape, C: int, layers: int) -> None:
        super().__init__()
        dim = shape.dim
        c_curr = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(
            conv(dim, shape.input_shape[0], c_curr, 3, padding=1, bias=False),
            batch_norm(dim, c_curr),
        )
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in reduction_layers(layers)
            c_curr = c_curr * 2 if reduction else c_curr
            cell_type = CELL_TYPES[reduction]
            self.cells.append(make_cell(cell_type, c_pp, c_p, c_curr, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(NODES) * c_curr
        self.global_pooling = global_avg_pool(dim)
        self.classifier = nn.Linear(c_p, shape.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))  # (batch, classes)
