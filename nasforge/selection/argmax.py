"""DARTS's own selection: the largest architecture weight wins."""

from __future__ import annotations

from nasforge.architecture import Architecture
from nasforge.registry import SELECTIONS
from nasforge.selection.base import Selection, SelectionContext, best_op


@SELECTIONS.register("argmax")
class ArgmaxSelection(Selection):
    """DARTS (Liu et al., ICLR 2019, Sec. 2.4): on every edge the op with the largest
    softmax(alpha), never ``none``; where a space chooses topology, each node keeps the
    ``inputs_per_node`` incoming edges whose strongest op is strongest.

    ``allow_none``: ``none`` may win too. NAS-Bench-201's DARTS (Dong & Yang, ICLR 2020; its
    code's ``genotype()`` takes the argmax over all five ops) and DARTS-PT's NB201 baseline
    select so; a cell space without topology choice has no other way to drop an edge.
    """

    def __init__(self, allow_none: bool = False) -> None:
        self.allow_none = allow_none

    def select(self, ctx: SelectionContext) -> Architecture:
        net = ctx.supernet
        strengths = ctx.strategy.op_strengths().detach().cpu()
        chosen = {}
        for e, edge in enumerate(net.edges):
            op, value = best_op(net.edge_ops[e], strengths[e], self.allow_none)
            chosen[edge] = (op, value)
            ctx.scores.append({"step": "argmax", "edge": edge, "op": op, "strength": value})
        kept = dict(chosen)
        for edges in net.node_inputs().values():
            ranked = sorted(edges, key=lambda edge: -chosen[edge][1])
            for edge in ranked[net.inputs_per_node:]:
                kept.pop(edge)
        return net.to_architecture({edge: op for edge, (op, _) in kept.items()})
