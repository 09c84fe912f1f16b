"""The DARTS search network (Liu et al., ICLR 2019): the DARTS skeleton with a mixed op on every
edge of every cell, as used by DARTS and DARTS-PT (Wang et al., ICLR 2021).

One :class:`EdgeWeights` holds 28 edges, ``"normal/2<-0"`` ... ``"reduce/5<-4"`` (node ``to``
<- input ``src``, 14 per cell type); all normal cells share the normal rows, all reduction cells
the reduce rows. Node ``n`` sums the mixed ops of its ``n`` incoming edges; edges from the two
cell inputs of a reduction cell have stride 2. Ops use BN with affine=False and pooling gets an
extra BN (affine=False), as in the official search code.

Topology (DARTS-PT): masking every op of an edge (``remove_edge``) makes it contribute zeros, so
a node can be cut down to its two kept inputs; ``restore_edge`` undoes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.registry import SUPERNETS
from nasforge.spaces.darts.network import (
    CELL_TYPES,
    EDGES,
    NODES,
    DartsNetwork,
    Preprocess,
    node_edge,
)
from nasforge.spaces.darts.ops import make_darts_op
from nasforge.spaces.darts.space import DartsSpace, edge_label
from nasforge.spaces.ops import Zero
from nasforge.supernet.base import CellSupernet, EdgeWeights
from nasforge.supernet.fused import Branch, accumulate
from nasforge.supernet.fused_darts import run_cell_branches
from nasforge.supernet.mixed import MixedOp
from nasforge.task import Shape

__all__ = ["DartsSupernet", "architecture_from_edges", "edges_from_architecture"]


def architecture_from_edges(space: DartsSpace, edges: Mapping[str, str]) -> Architecture:
    """``{edge label: op}`` (exactly 2 kept edges per node and cell type) -> Architecture."""
    return space.architecture_from_edges(edges)


def edges_from_architecture(space: DartsSpace, arch: Architecture) -> dict[str, str]:
    """Architecture -> ``{edge label: op}`` for its 16 kept edges."""
    return space.edges_from_architecture(arch)


class DartsMixedOp(MixedOp):
    """:class:`MixedOp` over DARTS's op table; pooling ops followed by a BN (affine=False)."""

    def __init__(self, op_names: Sequence[str], c: int, stride: int, dim: int) -> None:
        nn.Module.__init__(self)
        self.op_names = tuple(op_names)
        self.ops = nn.ModuleList(
            make_darts_op(n, c, c, stride, dim, affine=False, pool_bn=True) for n in op_names)
        self.zero = Zero(c, c, stride, dim)


class DartsSearchCell(Preprocess):
    """Every edge of one cell type at once; reads its weights from the shared state."""

    def __init__(self, state: EdgeWeights, cell: str, c_pp: int, c_p: int, c: int,
                 reduction_prev: bool, dim: int, fused: bool = True) -> None:
        super().__init__(c_pp, c_p, c, reduction_prev, dim, affine=False)
        self.state, self.fused = state, fused
        reduction = cell == "reduce"
        self.index = {node_edge(to, src): state.edge_index(edge_label(cell, to, src))
                      for to, src in EDGES}
        self.edges = nn.ModuleDict({
            node_edge(to, src): DartsMixedOp(state.ops[self.index[node_edge(to, src)]], c,
                                             2 if reduction and src < 2 else 1, dim)
            for to, src in EDGES
        })

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        return self._forward_fused(states) if self.fused else self._forward_per_edge(states)

    def _forward_fused(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """The edges leaving each state evaluated together (``supernet.fused_darts``)."""
        weights, active = self.state.effective, self.state.active
        states: list[torch.Tensor | None] = [*inputs] + [None] * len(NODES)
        owned: set[int] = set()
        for src in range(NODES[-1] + 1):
            state = states[src]
            if state is None:  # no edge into it runs: zeros, as MixedOp gives
                state = states[src] = self._mixed(src, 0).zero(inputs[0])
            if src == NODES[-1]:
                break
            branches = [Branch(self._mixed(to, src).ops[i], weights[e, i], to)
                        for to in NODES if to > src
                        for e in [self.index[node_edge(to, src)]] for i in active[e]]
            accumulate(states, owned, run_cell_branches(state, branches, self.state.static))
        return torch.cat(states[2:], dim=1)  # type: ignore[arg-type]  # (batch, 4c, ...)

    def _mixed(self, to: int, src: int) -> DartsMixedOp:
        mixed = self.edges[node_edge(to, src)]
        assert isinstance(mixed, DartsMixedOp)
        return mixed

    def _forward_per_edge(self, states: list[torch.Tensor]) -> torch.Tensor:
        weights, active = self.state.effective, self.state.active
        for to in NODES:
            total: torch.Tensor | None = None
            for src in range(to):
                name = node_edge(to, src)
                e = self.index[name]
                y = self.edges[name](states[src], weights[e], active[e])
                total = y if total is None else total + y
            assert total is not None
            states.append(total)
        return torch.cat(states[2:], dim=1)  # (batch, 4c, ...)


class DartsSupernet(CellSupernet):
    """The DARTS search network over ``space`` (default: the DARTS space, 8 ops).

    ``C`` and ``layers`` default to the space's (DARTS searches with C=16, 8 cells).

    ``channels_last``: on 2D (image) inputs, run in the channels-last memory format (as
    :class:`~nasforge.supernet.nb201.NB201Supernet`; same numbers up to float rounding, faster
    convolutions on CPU).

    ``fused``: evaluate the edges leaving each state of a cell together
    (``supernet.fused_darts``); same numbers up to float rounding.
    """

    cell_type = DartsSearchCell

    def __init__(self, shape: Shape, space: DartsSpace | None = None, C: int | None = None,
                 layers: int | None = None, channels_last: bool = True,
                 fused: bool = True) -> None:
        super().__init__()
        self.channels_last, self.fused = channels_last, fused
        base = space if space is not None else DartsSpace()
        options = dict(base.options(), C=C or base.C, layers=layers or base.layers)
        self.space = DartsSpace(**options)  # type: ignore[arg-type]
        self.shape = shape
        labels = list(self.space.candidates)
        self.arch_state = EdgeWeights(labels, [self.space.candidates[k] for k in labels])

        def make_cell(cell: str, c_pp: int, c_p: int, c: int, reduction_prev: bool) -> nn.Module:
            return DartsSearchCell(self.arch_state, cell, c_pp, c_p, c, reduction_prev,
                                   shape.dim, fused)

        self.net = DartsNetwork(make_cell, shape, self.space.C, self.space.layers)

    def path_indices(self, arch: Architecture) -> dict[int, int]:
        """The 16 edges ``arch`` keeps, with their ops; every other edge is off."""
        state = self.arch_state
        path = {}
        for edge, op in self.space.edges_from_architecture(arch).items():
            e = state.edge_index(edge)
            path[e] = state.op_index(e, op)
        return path

    def to_architecture(self, edge_ops: dict[str, str]) -> Architecture:
        """The space's architecture for the kept edges (exactly 2 per node and cell type)."""
        return self.space.architecture_from_edges(edge_ops)

    def node_inputs(self) -> dict[str, list[str]]:
        """``{"normal/3": ["normal/3<-0", "normal/3<-1", "normal/3<-2"], ...}``: each node keeps
        2 of its incoming edges (``inputs_per_node``)."""
        return {f"{cell}/{to}": [edge_label(cell, to, src) for src in range(to)]
                for cell in CELL_TYPES for to in NODES}

    def remove_edge(self, edge: str) -> None:
        """Topology step: mask every op of ``edge`` (it then contributes zeros)."""
        state = self.arch_state
        state.set_mask(state.edge_index(edge), None, keep=False)

    def restore_edge(self, edge: str) -> None:
        self.unmask(edge)

    def export(self, arch: Architecture) -> nn.Module:
        """The standalone DARTS network of ``arch`` (the supernet's C and layers), its op and
        preprocessing weights copied from the supernet; BN affine parameters, absent in the
        supernet, start as identity."""
        model = self.space.build(arch, self.shape)
        source = self.net.state_dict()
        edges = self.space.edges_from_architecture(arch)
        inherited = {}
        for name, value in model.state_dict().items():
            mapped = self._supernet_name(name, edges)
            if mapped in source and source[mapped].shape == value.shape:
                inherited[name] = source[mapped].clone()
        return self._inherit(model, inherited)

    def _supernet_name(self, name: str, edges: Mapping[str, str]) -> str:
        """``cells.4.edges.3<-1.2.weight`` -> ``cells.4.edges.3<-1.ops.K.2.weight``."""
        parts = name.split(".")
        if len(parts) > 3 and parts[0] == "cells" and parts[2] == "edges":
            cell = self.net.cells[int(parts[1])]
            assert isinstance(cell, DartsSearchCell)
            e = cell.index[parts[3]]
            k = self.arch_state.op_index(e, edges[self.arch_state.edges[e]])
            return ".".join(parts[:4] + ["ops", str(k)] + parts[4:])
        return name


@SUPERNETS.register("darts")
def darts_supernet(space: DartsSpace, shape: Shape, C: int | None = None,
                   layers: int | None = None) -> DartsSupernet:
    """The DARTS search network over ``space`` (C and layers default to the space's)."""
    return DartsSupernet(shape, space=space, C=C, layers=layers)
