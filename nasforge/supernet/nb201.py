"""The NAS-Bench-201 supernet: the NB201 skeleton with a mixed op on every cell edge.

All cells share one set of architecture weights (one row per edge), as in DARTS on NB201.
Note: cell ops use batch norm without affine parameters (DARTS's search convention); the
stem, reduction blocks and classifier are the standalone network's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ArchitectureError
from nasforge.registry import SUPERNETS
from nasforge.spaces.nb201 import EDGES, NB201_OPS, NODES, NB201Network, NB201Space, edge_label
from nasforge.supernet.base import CellSupernet, EdgeWeights
from nasforge.supernet.fused import Branch, accumulate, run_branches
from nasforge.supernet.mixed import MixedOp
from nasforge.task import Shape


class NB201SearchCell(nn.Module):
    """A cell with a mixed op on every edge. ``fused`` (default): the edges leaving a node are
    evaluated together (``supernet.fused``: one ReLU, one convolution per kernel size, one
    batch norm); otherwise edge by edge. Same numbers up to float rounding."""

    def __init__(self, state: EdgeWeights, channels: int, dim: int, fused: bool = True) -> None:
        super().__init__()
        self.state = state
        self.fused = fused
        self.edges = nn.ModuleDict({
            label: MixedOp(state.ops[e], channels, channels, 1, dim)
            for e, label in enumerate(state.edges)
        })
        self.index = {label: e for e, label in enumerate(state.edges)}
        # source node -> (edge index, label, target node) of every edge leaving it
        self.outgoing = {src: [(self.index[edge_label(to, src)], edge_label(to, src), to)
                               for to in range(src + 1, NODES)] for src in range(NODES - 1)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward_fused(x) if self.fused else self._forward_per_edge(x)

    def _forward_per_edge(self, x: torch.Tensor) -> torch.Tensor:
        weights, active = self.state.effective, self.state.active
        nodes = [x]
        for to in range(1, NODES):
            total: torch.Tensor | None = None
            for src in range(to):
                e = self.index[edge_label(to, src)]
                y = self.edges[edge_label(to, src)](nodes[src], weights[e], active[e])
                total = y if total is None else total + y
            assert total is not None
            nodes.append(total)
        return nodes[-1]

    def _forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        weights, active = self.state.effective, self.state.active
        nodes: list[torch.Tensor | None] = [x] + [None] * (NODES - 1)
        owned: set[int] = set()
        for src in range(NODES - 1):
            node = nodes[src]
            if node is None:  # every edge into it is `none` or masked: zeros, as MixedOp gives
                node = nodes[src] = torch.zeros_like(x)
            branches = [Branch(self._op(label, i), weights[e, i], to)
                        for e, label, to in self.outgoing[src] for i in active[e]]
            accumulate(nodes, owned, run_branches(node, branches, self.state.static))
        return torch.zeros_like(x) if nodes[-1] is None else nodes[-1]

    def _op(self, edge: str, i: int) -> nn.Module:
        mixed = self.edges[edge]
        assert isinstance(mixed, MixedOp)
        return mixed.ops[i]


class NB201Supernet(CellSupernet):
    """Every NB201 cell at once. ``ops`` restricts the candidate ops (default: all five).

    ``channels_last``: on 2D (image) inputs, run the network in the channels-last memory
    format (the model is converted on its first forward, inputs on every forward). Same
    numbers up to float rounding; on CPU the mkldnn convolutions are much faster that way
    (benchmarks/supernet_speed.py: about 1.5x on a training step of the C=16, N=5 supernet).

    ``fused``: evaluate the edges leaving each node together (``supernet.fused``); same
    numbers up to float rounding, about 1.3x faster and half the peak memory on that step.
    """

    cell_type = NB201SearchCell

    def __init__(self, shape: Shape, C: int = 16, N: int = 5,
                 ops: Sequence[str] = NB201_OPS, channels_last: bool = True,
                 fused: bool = True) -> None:
        super().__init__()
        self.channels_last, self.fused = channels_last, fused
        unknown = [o for o in ops if o not in NB201_OPS]
        if unknown:
            raise ArchitectureError(f"unknown NB201 ops {unknown}; ops: {list(NB201_OPS)}")
        self.space = NB201Space(C=C, N=N)
        self.shape = shape
        self.arch_state = EdgeWeights([edge_label(*e) for e in EDGES], [tuple(ops)] * len(EDGES))
        self.net = NB201Network(lambda c: NB201SearchCell(self.arch_state, c, shape.dim, fused),
                                shape, C, N)

    def to_architecture(self, edge_ops: dict[str, str]) -> Architecture:
        return self.space.validate(Architecture(edge_ops))

    def export(self, arch: Architecture) -> nn.Module:
        """The standalone NB201 network of ``arch``, its op weights copied from the supernet
        (batch-norm affine parameters, absent in the supernet's ops, start as identity)."""
        model = self.space.build(arch, self.shape)
        source = self.net.state_dict()
        inherited = {}
        for name, value in model.state_dict().items():
            mapped = _supernet_name(name, arch, self.arch_state)
            if mapped in source and source[mapped].shape == value.shape:
                inherited[name] = source[mapped].clone()
        return self._inherit(model, inherited)


def _supernet_name(name: str, arch: Architecture, state: EdgeWeights) -> str:
    """``cells.3.edges.2<-1.1.weight`` (standalone) -> ``cells.3.edges.2<-1.ops.K.1.weight``."""
    parts = name.split(".")
    if len(parts) > 3 and parts[0] == "cells" and parts[2] == "edges":
        edge = parts[3]
        k = state.op_index(state.edge_index(edge), str(arch[edge]))
        return ".".join(parts[:4] + ["ops", str(k)] + parts[4:])
    return name


@SUPERNETS.register("nb201")
def nb201_supernet(space: NB201Space, shape: Shape) -> NB201Supernet:
    """Every cell of the space in one network."""
    return NB201Supernet(shape, C=space.C, N=space.N)
