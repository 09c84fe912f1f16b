"""The Supernet: ONE module holding every op of a space, driven through a few verbs."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ArchitectureError, ConfigError


class EdgeWeights:
    """The architecture state shared by every cell of a supernet: one weight row per edge
    (possibly carrying gradients to alpha), a 0/1 mask per (edge, op) and the edges fixed to
    one op. Plain data, so a cell reads it without owning it."""

    def __init__(self, edges: Sequence[str], ops: Sequence[Sequence[str]]) -> None:
        self.edges = tuple(edges)
        self.ops = tuple(tuple(o) for o in ops)  # candidate op names of each edge
        self.width = max(len(o) for o in self.ops)
        n = len(self.edges)
        valid = torch.zeros(n, self.width)
        for e, names in enumerate(self.ops):
            valid[e, : len(names)] = 1.0
        self.valid = valid  # (edges, width): 1 where the edge has that op
        self.mask = valid.clone()
        self.fixed: dict[int, int] = {}
        self.weights = valid / valid.sum(1, keepdim=True)  # uniform until set
        self.active: list[list[int]] = []
        self.effective = self.weights
        self.refresh()

    def edge_index(self, edge: str) -> int:
        if edge not in self.edges:
            raise ArchitectureError(f"unknown edge {edge!r}; edges: {list(self.edges)}")
        return self.edges.index(edge)

    def op_index(self, edge: int, op: str) -> int:
        if op not in self.ops[edge]:
            raise ArchitectureError(
                f"edge {self.edges[edge]!r} has no op {op!r}; ops: {list(self.ops[edge])}")
        return self.ops[edge].index(op)

    def set(self, weights: torch.Tensor) -> None:
        if weights.shape != self.valid.shape:
            raise ConfigError(f"architecture weights must have shape {tuple(self.valid.shape)}, "
                              f"got {tuple(weights.shape)}")
        self.weights = weights
        self.refresh()

    def refresh(self) -> None:
        """Recompute the effective weights and the ops each edge must run."""
        w = self.weights * self.mask.to(self.weights.device)
        rows = []
        for e in range(len(self.edges)):
            if e in self.fixed:  # one-hot, still maskable (removing a decided edge)
                onehot = torch.nn.functional.one_hot(torch.tensor(self.fixed[e]), self.width)
                rows.append(onehot.to(w) * self.mask[e].to(w))
            else:
                rows.append(w[e])
        self.effective = torch.stack(rows)  # (edges, width)
        nonzero = (self.effective.detach() != 0).cpu()
        self.active = [
            [i for i, name in enumerate(self.ops[e]) if nonzero[e, i] and name != "none"]
            for e in range(len(self.edges))
        ]


def channels_last(model: nn.Module, probe: torch.Tensor | nn.Module, x: torch.Tensor
                  ) -> torch.Tensor:
    """``x`` in the channels-last memory format, ``model`` converted first if its ``probe``
    weight (e.g. the stem's) is not: checked on every call (cheap), so a model rebuilt or moved
    later is converted too; ``.to()`` keeps the Parameter objects, so optimizers built before
    still apply. On CPU the mkldnn convolutions are much faster that way."""
    assert isinstance(probe, torch.Tensor)
    if not probe.is_contiguous(memory_format=torch.channels_last):
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return x.contiguous(memory_format=torch.channels_last)


class Supernet(nn.Module):
    """Verbs: ``set_weights`` (DARTS), ``set_path`` (single path), ``mask``/``unmask`` and
    ``discretize`` (DARTS-PT), ``export`` (a standalone network with inherited weights).
    Subclasses build the network and set ``self.arch_state``."""

    arch_state: EdgeWeights

    @property
    def edges(self) -> tuple[str, ...]:
        return self.arch_state.edges

    @property
    def edge_ops(self) -> tuple[tuple[str, ...], ...]:
        return self.arch_state.ops

    @property
    def alpha_shape(self) -> tuple[int, int]:
        return tuple(self.arch_state.valid.shape)  # type: ignore[return-value]

    def set_weights(self, weights: torch.Tensor) -> None:
        self.arch_state.set(weights)

    def set_path(self, arch: Architecture) -> None:
        """One op per edge (one-hot weights): only that path runs and gets gradients."""
        state = self.arch_state
        onehot = torch.zeros_like(state.valid)
        for e, edge in enumerate(state.edges):
            onehot[e, state.op_index(e, str(arch[edge]))] = 1.0
        state.set(onehot)

    def mask(self, edge: str, op: str) -> None:
        e = self.arch_state.edge_index(edge)
        self.arch_state.mask[e, self.arch_state.op_index(e, op)] = 0.0
        self.arch_state.refresh()

    def unmask(self, edge: str, op: str | None = None) -> None:
        state = self.arch_state
        e = state.edge_index(edge)
        if op is None:
            state.mask[e] = state.valid[e]
        else:
            state.mask[e, state.op_index(e, op)] = 1.0
        state.refresh()

    def discretize(self, edge: str, op: str) -> None:
        e = self.arch_state.edge_index(edge)
        self.arch_state.fixed[e] = self.arch_state.op_index(e, op)
        self.arch_state.refresh()

    def discretized(self) -> dict[str, str]:
        state = self.arch_state
        return {state.edges[e]: state.ops[e][i] for e, i in sorted(state.fixed.items())}

    def verb_state(self) -> dict[str, object]:
        """The masks and fixed edges (the checkpointable part of the verbs)."""
        return {"mask": self.arch_state.mask.clone(), "fixed": dict(self.arch_state.fixed)}

    def load_verb_state(self, state: dict[str, object]) -> None:
        mask = state["mask"]
        assert isinstance(mask, torch.Tensor)
        if mask.shape != self.arch_state.valid.shape:
            raise ConfigError(f"checkpoint mask has shape {tuple(mask.shape)}, "
                              f"this supernet {tuple(self.arch_state.valid.shape)}")
        self.arch_state.mask = mask.clone()
        self.arch_state.fixed = dict(state["fixed"])  # type: ignore[call-overload]
        self.arch_state.refresh()

    def edge_groups(self) -> list[list[str]]:
        """Edges that are decided together, one per group per round (e.g. the normal and the
        reduction cell of DARTS); by default grouped by the prefix before '/'."""
        groups: dict[str, list[str]] = {}
        for edge in self.edges:
            groups.setdefault(edge.split("/")[0] if "/" in edge else "", []).append(edge)
        return list(groups.values())

    def node_inputs(self) -> dict[str, list[str]]:
        """For spaces with a topology choice: node -> its incoming edges (each node keeps
        ``inputs_per_node`` of them). Empty when every edge is kept (NB201)."""
        return {}

    inputs_per_node = 2

    @abstractmethod
    def to_architecture(self, edge_ops: dict[str, str]) -> Architecture:
        """The space's architecture for the kept edges and their ops."""

    @abstractmethod
    def export(self, arch: Architecture) -> nn.Module:
        """The standalone network of ``arch`` with the weights this supernet holds for it."""
