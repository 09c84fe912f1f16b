"""PGNAS on the NAS-Bench-201 cell at operation level (Zhou et al., AAAI 2020, with the
remedy the paper proposes for its stated limitation).

Every edge holds every op of the space except ``none``; each op is behind one gate (a whole-op
unit, shared by all cells: p is per (edge, op), the cell is one architecture). Pooling and
skip have no weights, so, as the paper suggests, a 1x1 convolution follows each of them and
carries their share of the weight term. An edge's output is the sum of its gated ops.

How a sampled mask maps to an NB201 architecture (``architecture_of``): on each edge the kept
op with the LOWEST drop probability; ``none`` when the mask keeps no op on the edge.
Candidates are ranked as sampled (the paper's "evaluate as is": a candidate may keep several
ops on an edge); the winner is reported, exported and retrained as its NB201 cell.
Note: scoring the one-op-per-edge cell itself inside the supernet instead gives near-chance
accuracies without batch-norm recalibration (the cell's activations differ too much from the
sum of ops the statistics were gathered on).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.registry import GATED_SUPERNETS
from nasforge.spaces.nb201 import EDGES, NB201_OPS, NODES, NB201Network, NB201Space, edge_label
from nasforge.spaces.ops import make_op
from nasforge.supernet.base import EdgeWeights, Supernet
from nasforge.supernet.gates import ChannelGate, GateBank
from nasforge.task import Shape

PARAMETRIC = ("nor_conv_1x1", "nor_conv_3x3")


class GatedOp(nn.Module):
    """op -> (1x1 conv for a non-parametric op, the paper's surrogate gate) -> gate."""

    def __init__(self, bank: GateBank, edge: int, group: int, name: str, channels: int,
                 dim: int) -> None:
        super().__init__()
        self.op = make_op(name, channels, channels, 1, dim, affine=False)
        self.surrogate = None if name in PARAMETRIC else make_op(
            "nor_conv_1x1", channels, channels, 1, dim, affine=False)
        self.gate = ChannelGate(bank, edge, group, units=1, fan_in=channels, owner=self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate.dropped():
            return x * 0.0  # stride 1, same channels: the dropped op contributes zeros
        out = self.op(x)
        if self.surrogate is not None:
            out = self.surrogate(out)
        # The gate scales the op's OUTPUT: a whole-op unit must contribute exactly zero when
        # dropped (gating the input would still leave the batch norm's shift in eval mode).
        return self.gate(out)


class GatedCell(nn.Module):
    def __init__(self, bank: GateBank, ops: Sequence[str], channels: int, dim: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict({
            edge_label(*e): nn.ModuleList(GatedOp(bank, i, g, name, channels, dim)
                                          for g, name in enumerate(ops))
            for i, e in enumerate(EDGES)
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in range(1, NODES):
            outputs = [op(nodes[src]) for src in range(to)
                       for op in self.edges[edge_label(to, src)]]  # type: ignore[attr-defined]
            nodes.append(torch.stack(outputs).sum(0))
        return nodes[-1]


class GatedNB201Supernet(Supernet):
    """The NB201 skeleton with gated cells; ``bank.drop_probs()`` is (6 edges, 4 ops)."""

    def __init__(self, shape: Shape, C: int = 16, N: int = 5, init_p: float = 0.1,
                 tau: float = 0.2) -> None:
        super().__init__()
        self.space = NB201Space(C=C, N=N)
        self.shape = shape
        self.ops = [op for op in NB201_OPS if op != "none"]
        labels = [edge_label(*e) for e in EDGES]
        self.bank = GateBank(labels, self.ops, init_p, tau)
        self.arch_state = EdgeWeights(labels, [tuple(self.ops)] * len(labels))
        self.net = NB201Network(lambda c: GatedCell(self.bank, self.ops, c, shape.dim),
                                shape, C, N)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]

    def architecture_of(self, masks: dict[tuple[int, int], torch.Tensor]) -> Architecture:
        """Per edge, the kept op with the lowest drop probability (``none`` if none kept).
        Kept ops of equal probability tie, as every op does on a supernet without a learned
        posterior (Bender's fixed-dropout baseline: p stays at its initial value); the tie
        goes to one of them at random, drawn from the mask itself (the same mask is the same
        cell, on resume too), not to the first op in order, which made skip_connect win every
        such edge and the all-skip cell nearly every candidate."""
        probs = self.bank.drop_probs().detach().cpu()
        kept = sorted(key for key, mask in masks.items() if float(mask[0]) > 0)
        tie_break = np.random.default_rng(sum(1 << (e * len(self.ops) + g) for e, g in kept))
        choice = {}
        for e, label in enumerate(self.bank.layers):
            groups = [g for (layer, g) in kept if layer == e]
            lowest = min((float(probs[e, g]) for g in groups), default=None)
            tied = [g for g in groups if float(probs[e, g]) == lowest]
            if len(tied) > 1:
                tied = [tied[int(tie_break.integers(len(tied)))]]
            choice[label] = self.ops[tied[0]] if tied else "none"
        return self.space.validate(Architecture(choice))

    def candidate(self, masks: dict[tuple[int, int], torch.Tensor]
                  ) -> tuple[Architecture, dict[tuple[int, int], torch.Tensor]]:
        """A sampled mask -> (its NB201 cell, the masks to evaluate). As the paper does, the
        candidate is scored as sampled (several ops per edge may be kept), with the
        inherited weights as they are; the cell is what the candidate is reported as."""
        return self.architecture_of(masks), masks

    def masks_for(self, arch: Architecture) -> dict[tuple[int, int], torch.Tensor]:
        """The hard masks under which the supernet computes exactly ``arch``'s cell."""
        return {(e, g): torch.tensor([float(arch[label] == op)])
                for e, label in enumerate(self.bank.layers) for g, op in enumerate(self.ops)}

    def to_architecture(self, edge_ops: dict[str, str]) -> Architecture:
        return self.space.validate(Architecture(edge_ops))

    def export(self, arch: Architecture) -> nn.Module:
        """A standalone copy computing ``arch``'s cell with the inherited weights: the gates
        fixed to ``arch``'s masks and every unused op dropped."""
        model = copy.deepcopy(self)
        model.bank.set_masks(model.masks_for(arch))
        for cell in model.net.cells:
            if isinstance(cell, GatedCell):
                for label, ops in cell.edges.items():
                    assert isinstance(ops, nn.ModuleList)
                    for g in range(len(ops)):
                        if arch[label] != self.ops[g]:
                            ops[g] = _Zero()
        return model


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


@GATED_SUPERNETS.register("nb201")
def gated_nb201_supernet(space: NB201Space, shape: Shape, init_p: float = 0.1,
                         tau: float = 0.2) -> GatedNB201Supernet:
    return GatedNB201Supernet(shape, space.C, space.N, init_p, tau)
