"""The Supernet: ONE module holding every op of a space, driven through a few verbs."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ArchitectureError, ConfigError
from nasforge.task import Shape


class EdgeWeights:
    """The architecture state shared by every cell of a supernet: one weight row per edge
    (possibly carrying gradients to alpha), a 0/1 mask per (edge, op) and the edges fixed to
    one op. Plain data, so a cell reads it without owning it.

    Two copies of the structure: tensors on the supernet's device and dtype (``valid``,
    ``mask``, the fixed edges' one-hot rows; moved by ``Supernet.to``), from which the
    ``effective`` weights are computed without leaving the device, and host-side lists from
    which ``active`` (the ops each edge runs) is derived, so that neither needs the other: a
    step never waits for the device to tell the host which ops to run.

    ``active``: the ops of each edge that are valid, not masked, not ``none``, the fixed op of
    a fixed edge, and on the path when one is set (``set_path``). In ``static`` mode
    (compiled steps: one graph for every path and mask) every valid op other than ``none``
    is active, and a zero weight zeroes its op instead (``nasforge.supernet.fused``)."""

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
        self.fixed_rows = torch.zeros(n, 1)  # (edges, 1): 1 where the edge is fixed
        self.fixed_onehot = torch.zeros(n, self.width)  # (edges, width): the fixed op
        self.host_mask = [[True] * len(names) for names in self.ops]
        self.fixed: dict[int, int] = {}
        self.path: dict[int, int] | None = None  # edge -> op of the path set, else None
        self.static = False
        self.weights = valid / valid.sum(1, keepdim=True)  # uniform until set
        self.active: list[list[int]] = []  # the ops each edge runs
        self.running: list[list[int]] = []  # of those, the ops not zero by construction
        self.effective = self.weights
        self.refresh()

    def apply_(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Apply a module conversion (``Supernet.to``: device, dtype) to the tensors."""
        self.valid, self.mask = fn(self.valid), fn(self.mask)
        self.fixed_rows, self.fixed_onehot = fn(self.fixed_rows), fn(self.fixed_onehot)
        converted = fn(self.weights)  # the same tensor when nothing changes (memory format)
        if converted is not self.weights:
            self.weights = converted.detach()
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
        """Weights for every op (DARTS): every valid, unmasked op runs."""
        if weights.shape != self.valid.shape:
            raise ConfigError(f"architecture weights must have shape {tuple(self.valid.shape)}, "
                              f"got {tuple(weights.shape)}")
        self.weights, self.path = weights, None
        self.refresh()

    def set_path(self, path: dict[int, int]) -> None:
        """One op per edge in ``path`` (edge -> op index), weight 1; other edges are off.
        The one-hot rows are made on the host and copied without waiting for the device."""
        onehot = torch.zeros(self.valid.shape)
        for e, i in path.items():
            onehot[e, i] = 1.0
        self.weights = onehot.to(self.valid.device, self.valid.dtype, non_blocking=True)
        self.path = dict(path)
        self.refresh()

    def set_mask(self, e: int, i: int | None, keep: bool) -> None:
        """Mask (``keep=False``) or unmask op ``i`` of edge ``e`` (every op when None)."""
        ops = range(len(self.ops[e])) if i is None else [i]
        for k in ops:
            self.host_mask[e][k] = keep
            self.mask[e, k] = float(keep)
        self.refresh()

    def fix(self, e: int, i: int) -> None:
        self.fixed[e] = i
        self.fixed_rows[e] = 1.0
        self.fixed_onehot[e] = 0.0
        self.fixed_onehot[e, i] = 1.0
        self.refresh()

    def load(self, mask: torch.Tensor, fixed: dict[int, int]) -> None:
        """The masks and fixed edges of a checkpoint."""
        self.mask = mask.to(self.valid.device, self.valid.dtype)
        self.host_mask = [[bool(mask[e, i]) for i in range(len(names))]
                          for e, names in enumerate(self.ops)]
        self.fixed = {}
        self.fixed_rows.zero_()
        self.fixed_onehot.zero_()
        for e, i in dict(fixed).items():
            self.fix(e, i)
        self.refresh()

    def refresh(self) -> None:
        """Recompute the effective weights (on the device) and the ops each edge must run
        (on the host)."""
        w = self.weights * self.mask
        if self.fixed:  # one-hot rows, still maskable (removing a decided edge)
            w = torch.where(self.fixed_rows > 0, self.fixed_onehot * self.mask, w)
        self.effective = w  # (edges, width)
        self.running = [self._running(e) for e in range(len(self.edges))]
        self.active = [[i for i, name in enumerate(names) if name != "none"]
                       for names in self.ops] if self.static else self.running

    def _running(self, e: int) -> list[int]:
        """The ops of edge ``e`` whose weight is not zero by construction (not masked, the
        fixed op of a fixed edge, on the path when one is set), ``none`` aside."""
        names = self.ops[e]
        keep = [self.host_mask[e][i] and names[i] != "none" for i in range(len(names))]
        chosen = self.fixed.get(e) if e in self.fixed else (
            None if self.path is None else self.path.get(e, -1))
        return [i for i in range(len(names)) if keep[i] and chosen in (None, i)]

    def single(self, e: int) -> bool:
        """Whether edge ``e`` runs one op at weight exactly 1 (a path or a fixed edge), known
        on the host."""
        on_path = self.path is not None and e in self.path and e not in self.fixed
        return len(self.active[e]) == 1 and (on_path or e in self.fixed) and not self.static


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

    def _apply(self, fn: Callable[..., torch.Tensor], recurse: bool = True) -> Supernet:
        """``to``, ``double``, ``cuda`` ... move the architecture state with the weights, so
        every tensor a verb makes later is made on the module's device, in its dtype."""
        super()._apply(fn, recurse)
        self.arch_state.apply_(fn)
        return self

    def set_weights(self, weights: torch.Tensor) -> None:
        """Weights for every op of every edge (DARTS: softmax(alpha)); every valid op that
        is not masked runs, weighted."""
        self.arch_state.set(weights)

    def path_indices(self, arch: Architecture) -> dict[int, int]:
        """``arch`` as edge -> op index, for the edges it runs (here: every edge)."""
        state = self.arch_state
        return {e: state.op_index(e, str(arch[edge])) for e, edge in enumerate(state.edges)}

    def set_path(self, arch: Architecture) -> None:
        """One op per edge (one-hot weights): only that path runs and gets gradients."""
        self.arch_state.set_path(self.path_indices(arch))

    def mask(self, edge: str, op: str) -> None:
        e = self.arch_state.edge_index(edge)
        self.arch_state.set_mask(e, self.arch_state.op_index(e, op), keep=False)

    def unmask(self, edge: str, op: str | None = None) -> None:
        state = self.arch_state
        e = state.edge_index(edge)
        state.set_mask(e, None if op is None else state.op_index(e, op), keep=True)

    def discretize(self, edge: str, op: str) -> None:
        e = self.arch_state.edge_index(edge)
        self.arch_state.fix(e, self.arch_state.op_index(e, op))

    def discretized(self) -> dict[str, str]:
        state = self.arch_state
        return {state.edges[e]: state.ops[e][i] for e, i in sorted(state.fixed.items())}

    def verb_state(self) -> dict[str, object]:
        """The masks and fixed edges (the checkpointable part of the verbs), on the CPU so
        that a checkpoint loads on any machine."""
        return {"mask": self.arch_state.mask.detach().cpu().clone(),
                "fixed": dict(self.arch_state.fixed)}

    def load_verb_state(self, state: dict[str, object]) -> None:
        mask = state["mask"]
        assert isinstance(mask, torch.Tensor)
        if mask.shape != self.arch_state.valid.shape:
            raise ConfigError(f"checkpoint mask has shape {tuple(mask.shape)}, "
                              f"this supernet {tuple(self.arch_state.valid.shape)}")
        self.arch_state.load(mask, state["fixed"])  # type: ignore[arg-type]

    def set_static(self, static: bool) -> None:
        """Static form (compiled steps): every op runs on every path and under every mask,
        a zero weight zeroing its output, its gradient (``release_unused_grads``) and its
        batch-norm update; so one graph serves every path. The numbers are the dynamic
        form's up to float rounding (ops that draw random numbers aside: they draw more).
        Supernets without a static form refuse."""
        if static and not self.has_static_form:
            raise ConfigError(f"{type(self).__name__} has no static form to compile")
        self.arch_state.static = static
        self.arch_state.refresh()

    @property
    def has_static_form(self) -> bool:
        return False

    def settle_layout(self) -> None:
        """Convert the weights to the memory format the forward runs in now, not on the
        first forward (a compiled forward must not see its parameters change layout)."""

    def op_modules(self) -> Iterator[tuple[int, int, nn.Module]]:
        """Every op module of every cell as (edge index, op index, module)."""
        return iter(())

    def release_unused_grads(self) -> None:
        """After a backward pass in the static form: the ops that ran at weight zero by
        construction (off the path, masked, beside a fixed edge's op) got zero gradients;
        set them to None, as the dynamic form (which does not run them) leaves them, so
        that SGD's momentum and weight decay skip them too."""
        running = self.arch_state.running
        if self._op_params is None:  # the modules never change: listed once
            self._op_params = [(e, i, tuple(m.parameters())) for e, i, m in self.op_modules()]
        for e, i, params in self._op_params:
            if i not in running[e]:
                for p in params:
                    p.grad = None

    _op_params: list[tuple[int, int, tuple[nn.Parameter, ...]]] | None = None

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
        """The standalone network of ``arch`` with the weights this supernet holds for it,
        on the supernet's device and in its dtype."""

    def _inherit(self, model: nn.Module, weights: dict[str, torch.Tensor]) -> nn.Module:
        """``model`` (built on the CPU) moved to this supernet's device and dtype, with the
        inherited ``weights`` (state-dict entries) loaded."""
        device, dtype = self.arch_state.valid.device, self.arch_state.valid.dtype
        model.to(device=device, dtype=dtype)
        target = model.state_dict()
        target.update(weights)
        model.load_state_dict(target)
        return model


class CellSupernet(Supernet):
    """A supernet of search cells whose edges are mixed ops (NB201, DARTS): each cell has
    ``edges`` (a ModuleDict of mixed ops, each holding its candidate ``ops``) and ``index``
    (edge key -> row of ``arch_state``); the network ``net`` begins with a stem convolution.

    ``channels_last``: on 2D (image) inputs the network runs in the channels-last memory
    format (converted on its first forward, or by ``settle_layout`` before compiling);
    ``fused``: the edges leaving a node run together (``supernet.fused``), the form whose
    batch norms a zero weight can gate, so the static form needs it."""

    net: Any  # the space's network with search cells (NB201Network, DartsNetwork)
    shape: Shape
    channels_last: bool
    fused: bool
    cell_type: type[nn.Module]  # the search cell class

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            x = channels_last(self, self.net.stem[0].weight, x)
        return self.net(x)  # type: ignore[no-any-return]

    @property
    def has_static_form(self) -> bool:
        return self.fused

    def settle_layout(self) -> None:
        if self.channels_last and self.shape.dim == 2:
            self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def op_modules(self) -> Iterator[tuple[int, int, nn.Module]]:
        for module in self.modules():
            if isinstance(module, self.cell_type):
                cell: Any = module  # a search cell: its edges and their rows
                for key, mixed in cell.edges.items():
                    for i, op in enumerate(mixed.ops):
                        yield cell.index[key], i, op
