"""The DARTS CNN cell space (Liu et al., ICLR 2019) and the robustness spaces S1-S4 (Zela et
al., "Understanding and Robustifying Differentiable Architecture Search", ICLR 2020).

A network has a normal and a reduction cell. Each cell has intermediate nodes 2..5; node ``n``
takes exactly 2 distinct inputs among the cell inputs 0, 1 and the earlier nodes, each through
one op; the cell outputs the concatenation of nodes 2..5. As categorical decisions, per cell
type and node::

    "{cell}_n{n}_inputs"  options "0,1", "0,2", "1,2", ...   (the two inputs, sorted)
    "{cell}_n{n}_op_a"    the op on the smaller input
    "{cell}_n{n}_op_b"    the op on the larger input

Ops: the 8 DARTS ops by default, ``ops`` for a custom list, or ``space_variant`` S2 = {skip,
sep3x3}, S3 = {none, skip, sep3x3}, S4 = {noise, sep3x3}, S1 = a pair of ops per edge (the
authors' data by default, or ``edge_ops``: {edge label: [op, ...]} with labels "normal/3<-1").

Note: with per-edge ops (S1) an op decision lists the union of its possible edges' ops and
``validate`` rejects an op its edge does not have; ``sample``/``mutate`` only produce valid
cells, but a strategy that draws each decision independently may not (it should resample).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError, ConfigError
from nasforge.registry import SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.darts.genotype import Pairs, format_genotype, parse_genotype
from nasforge.spaces.darts.network import CELL_TYPES, EDGES, NODES, CellOps, DartsCell, DartsNetwork
from nasforge.spaces.darts.ops import DARTS_OPS
from nasforge.spaces.darts.s1 import S1_EDGE_OPS
from nasforge.task import Shape

DARTS_PRIMITIVES = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                    "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
VARIANT_OPS = {
    "darts": DARTS_PRIMITIVES,
    "s2": ("skip_connect", "sep_conv_3x3"),
    "s3": ("none", "skip_connect", "sep_conv_3x3"),
    "s4": ("noise", "sep_conv_3x3"),
}
Variant = Literal["darts", "s1", "s2", "s3", "s4"]


def edge_label(cell: str, to: int, src: int) -> str:
    """A supernet edge, ``"normal/3<-1"``: 14 per cell type, 28 in all."""
    return f"{cell}/{to}<-{src}"


EDGE_LABELS = tuple(edge_label(cell, to, src) for cell in CELL_TYPES for to, src in EDGES)


def decision_label(cell: str, node: int, what: str) -> str:
    return f"{cell}_n{node}_{what}"


def input_pairs(node: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(node), 2))


def pair_option(pair: tuple[int, int]) -> str:
    return f"{pair[0]},{pair[1]}"


@SPACES.register("darts")
class DartsSpace(SearchSpace):
    """The DARTS cell space; ``C`` and ``layers`` shape the standalone network ``build`` makes
    (DARTS evaluates with C=36, layers=20; the search defaults are C=16, layers=8)."""

    name = "darts"

    def __init__(self, C: int = 16, layers: int = 8, ops: list[str] | None = None,
                 space_variant: Variant = "darts",
                 edge_ops: dict[str, list[str]] | None = None) -> None:
        if C <= 0 or layers <= 0:
            raise ConfigError(f"darts needs C > 0 and layers > 0, got C={C}, layers={layers}")
        self.C, self.layers, self.variant = C, layers, space_variant
        self._ops = None if ops is None else list(ops)
        self._edge_ops = None if edge_ops is None else {k: list(v) for k, v in edge_ops.items()}
        self.candidates = _resolve_candidates(space_variant, ops, edge_ops)
        self._decisions = tuple(self._make_decisions())

    def _make_decisions(self) -> list[Categorical]:
        decisions = []
        for cell in CELL_TYPES:
            for node in NODES:
                pairs = input_pairs(node)
                decisions.append(Categorical(decision_label(cell, node, "inputs"),
                                             [pair_option(p) for p in pairs]))
                for slot, what in enumerate(("op_a", "op_b")):
                    edges = sorted({p[slot] for p in pairs})
                    ops = _union(self.candidates[edge_label(cell, node, s)] for s in edges)
                    decisions.append(Categorical(decision_label(cell, node, what), ops))
        return decisions

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return self._decisions

    def options(self) -> dict[str, object]:
        return {"C": self.C, "layers": self.layers, "ops": self._ops,
                "space_variant": self.variant, "edge_ops": self._edge_ops}

    # --- architecture <-> cells and supernet edges ---------------------------------------

    def cell_ops(self, arch: Architecture) -> dict[str, CellOps]:
        """``{cell type: {(to, src): op}}``, 8 edges per cell."""
        self.validate(arch)
        return _cell_ops(arch)

    def from_cell_ops(self, cells: Mapping[str, Mapping[tuple[int, int], str]]) -> Architecture:
        choices: dict[str, str] = {}
        for cell in CELL_TYPES:
            for node in NODES:
                srcs = sorted(src for (to, src) in cells[cell] if to == node)
                if len(srcs) != 2:
                    raise ArchitectureError(f"{cell} node {node} needs exactly 2 distinct "
                                            f"inputs, got {srcs}")
                choices[decision_label(cell, node, "inputs")] = pair_option((srcs[0], srcs[1]))
                for what, src in zip(("op_a", "op_b"), srcs, strict=True):
                    choices[decision_label(cell, node, what)] = cells[cell][(node, src)]
        return self.validate(Architecture(choices))

    def edges_from_architecture(self, arch: Architecture) -> dict[str, str]:
        """``{supernet edge label: op}`` for the 16 edges ``arch`` keeps (2 per node)."""
        return {edge_label(cell, to, src): op
                for cell, ops in self.cell_ops(arch).items() for (to, src), op in ops.items()}

    def architecture_from_edges(self, edges: Mapping[str, str]) -> Architecture:
        """The inverse: ``{edge label: op}`` with exactly 2 kept edges per node and cell type."""
        cells: dict[str, dict[tuple[int, int], str]] = {cell: {} for cell in CELL_TYPES}
        for label, op in edges.items():
            if label not in EDGE_LABELS:
                raise ArchitectureError(f"unknown DARTS edge {label!r} (e.g. 'normal/3<-1')")
            cell, rest = label.split("/")
            to, src = (int(v) for v in rest.split("<-"))
            cells[cell][(to, src)] = op
        return self.from_cell_ops(cells)

    # --- validity, sampling, mutation --------------------------------------------------------

    def validate(self, arch: Architecture) -> Architecture:
        super().validate(arch)
        for cell, ops in _cell_ops(arch).items():
            for (to, src), op in ops.items():
                allowed = self.candidates[edge_label(cell, to, src)]
                if op not in allowed:
                    raise ArchitectureError(f"op {op!r} is not a candidate of edge "
                                            f"{edge_label(cell, to, src)!r}: {list(allowed)}")
        return arch

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Uniform over valid cells (a pair of inputs weighted by its number of op choices)."""
        cells: dict[str, CellOps] = {}
        for cell in CELL_TYPES:
            cells[cell] = {}
            for node in NODES:
                pairs = input_pairs(node)
                sizes = np.array([len(self._edge(cell, node, a)) * len(self._edge(cell, node, b))
                                  for a, b in pairs], dtype=float)
                a, b = pairs[int(rng.choice(len(pairs), p=sizes / sizes.sum()))]
                for src in (a, b):
                    ops = self._edge(cell, node, src)
                    cells[cell][(node, src)] = ops[int(rng.integers(len(ops)))]
        return self.from_cell_ops(cells)

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """Change one thing: one op (to another candidate of its edge) or one input of a node
        (its op kept if the new edge has it, else drawn from the new edge's ops)."""
        cells = self.cell_ops(arch)
        moves = [(cell, to, src, kind) for cell in CELL_TYPES for (to, src) in cells[cell]
                 for kind in ("op", "input")
                 if (len(self._edge(cell, to, src)) > 1 if kind == "op" else to > 2)]
        if not moves:
            return arch
        cell, to, src, kind = moves[int(rng.integers(len(moves)))]
        ops = cells[cell]
        if kind == "op":
            others = [o for o in self._edge(cell, to, src) if o != ops[(to, src)]]
            ops[(to, src)] = others[int(rng.integers(len(others)))]
        else:
            taken = {s for (t, s) in ops if t == to}
            free = [s for s in range(to) if s not in taken]
            new = free[int(rng.integers(len(free)))]
            op = ops.pop((to, src))
            allowed = self._edge(cell, to, new)
            ops[(to, new)] = op if op in allowed else allowed[int(rng.integers(len(allowed)))]
        return self.from_cell_ops(cells)

    def _edge(self, cell: str, to: int, src: int) -> tuple[str, ...]:
        return self.candidates[edge_label(cell, to, src)]

    # --- text, key, networks ---------------------------------------------------------------

    def format(self, arch: Architecture) -> str:
        cells = self.cell_ops(arch)
        return format_genotype({cell: [(op, src) for (_to, src), op in sorted(cells[cell].items())]
                                for cell in CELL_TYPES})

    def parse(self, text: str) -> Architecture:
        text = text.strip()
        if text.startswith("{"):
            return super().parse(text)
        return self.from_cell_ops({cell: _pairs_to_cell(cell, pairs)
                                   for cell, pairs in parse_genotype(text).items()})

    def key(self, arch: Architecture) -> str:
        """The canonical genotype: each node's inputs sorted with their ops, so listing a node's
        two (op, input) pairs in either order gives one key."""
        return self.format(arch)

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        cells = self.cell_ops(arch)

        def make_cell(cell: str, c_pp: int, c_p: int, c: int, reduction_prev: bool) -> nn.Module:
            return DartsCell(cells[cell], c_pp, c_p, c, cell == "reduce", reduction_prev,
                             shape.dim)

        return DartsNetwork(make_cell, shape, self.C, self.layers)

def _cell_ops(arch: Architecture) -> dict[str, CellOps]:
    cells: dict[str, CellOps] = {}
    for cell in CELL_TYPES:
        cells[cell] = {}
        for node in NODES:
            a, b = (int(v) for v in str(arch[decision_label(cell, node, "inputs")]).split(","))
            cells[cell][(node, a)] = str(arch[decision_label(cell, node, "op_a")])
            cells[cell][(node, b)] = str(arch[decision_label(cell, node, "op_b")])
    return cells


def _pairs_to_cell(cell: str, pairs: Pairs) -> CellOps:
    """Genotype pairs (two per node, in node order) -> {(to, src): op}, checking the inputs."""
    ops: CellOps = {}
    for k, (op, src) in enumerate(pairs):
        node = NODES[k // 2]
        if not 0 <= src < node or (node, src) in ops:
            raise ArchitectureError(f"genotype {cell} node {node}: bad input {src} (want two "
                                    f"distinct inputs among 0..{node - 1})")
        ops[(node, src)] = op
    return ops


def _union(groups: Iterable[Sequence[str]]) -> list[str]:
    seen: list[str] = []
    for group in groups:
        seen.extend(o for o in group if o not in seen)
    return seen


def _resolve_candidates(variant: str, ops: Sequence[str] | None,
                        edge_ops: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """The candidate ops of each of the 28 edges."""
    if variant not in (*VARIANT_OPS, "s1"):
        raise ConfigError(f"unknown darts space_variant {variant!r}; "
                          f"known: {[*VARIANT_OPS, 's1']}")
    if ops is not None and (variant != "darts" or edge_ops is not None):
        raise ConfigError("darts: give either ops, or space_variant / edge_ops, not both")
    if edge_ops is not None and variant not in ("darts", "s1"):
        raise ConfigError(f"darts: edge_ops defines the ops itself; space_variant must be "
                          f"'darts' or 's1', got {variant!r}")
    if edge_ops is None and variant == "s1":
        edge_ops = S1_EDGE_OPS
    if edge_ops is None:
        chosen = tuple(ops) if ops is not None else VARIANT_OPS[variant]
        edge_ops = {label: chosen for label in EDGE_LABELS}
    if set(edge_ops) != set(EDGE_LABELS):
        missing = sorted(set(EDGE_LABELS) - set(edge_ops))
        extra = sorted(set(edge_ops) - set(EDGE_LABELS))
        raise ConfigError(f"darts edge_ops must name all 28 edges: missing {missing}, "
                          f"unexpected {extra}")
    for label, names in edge_ops.items():
        unknown = [o for o in names if o not in DARTS_OPS]
        if not names or unknown or len(set(names)) != len(names):
            raise ConfigError(f"darts edge {label!r}: bad ops {list(names)}; known ops: "
                              f"{', '.join(DARTS_OPS)}")
    return {label: tuple(edge_ops[label]) for label in EDGE_LABELS}
