"""NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell is a DAG of 4 nodes; node i (1..3) sums one op applied to every earlier node, so there
are 6 edges with 5 ops each (15,625 cells). The standalone network is NB201's: a 3x3 conv stem,
3 stages of N cells with C, 2C, 4C channels separated by ResNet reduction blocks, BN-ReLU,
global pooling and a linear classifier. With C=16, N=5 on 32x32 inputs it has exactly the
parameter counts of the NB201 table.

Note: the same cell also builds on 1D inputs (conv1d etc.), for sequence data like MNIST-1D.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError
from nasforge.nn.counting import Cost, measure
from nasforge.nn.layers import batch_norm, conv, global_avg_pool
from nasforge.registry import SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.ops import ResNetBasicBlock, make_op
from nasforge.task import Shape

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NODES = 4
EDGES = tuple((i, j) for i in range(1, NODES) for j in range(i))  # (to, from)


def edge_label(to: int, src: int) -> str:
    return f"{to}<-{src}"


_OP_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")


def parse_arch_str(text: str) -> dict[tuple[int, int], str]:
    """``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` -> {(to, from): op}. Raises on any deviation."""
    nodes = text.strip().split("+")
    if len(nodes) != NODES - 1:
        raise ArchitectureError(f"malformed NB201 string {text!r}: want 3 '+'-separated nodes")
    edges: dict[tuple[int, int], str] = {}
    for to, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise ArchitectureError(f"malformed NB201 string {text!r}: node {node!r} not in |...|")
        tokens = node[1:-1].split("|")
        if len(tokens) != to:
            raise ArchitectureError(f"malformed NB201 string {text!r}: node {to} needs {to} inputs")
        for src, token in enumerate(tokens):
            match = _OP_TOKEN.match(token)
            if not match or int(match.group(2)) != src:
                raise ArchitectureError(f"malformed NB201 string {text!r}: bad edge {token!r}")
            if match.group(1) not in NB201_OPS:
                raise ArchitectureError(
                    f"unknown op {match.group(1)!r} in {text!r}; ops: {', '.join(NB201_OPS)}"
                )
            edges[(to, src)] = match.group(1)
    return edges


def unique_str(ops: dict[tuple[int, int], str]) -> str:
    """NB201's isomorphism key: a node is the sorted sum of its inputs' expressions; ``none``
    (or an input that is identically zero) gives ``#``, skip passes the input's expression."""
    expr = {0: "0"}
    for to in range(1, NODES):
        terms = []
        for src in range(to):
            op = ops[(to, src)]
            if op == "none" or expr[src] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(expr[src])
            else:
                terms.append(f"({expr[src]})@{op}")
        expr[to] = "+".join(sorted(terms))
    return expr[NODES - 1]


class NB201Cell(nn.Module):
    def __init__(self, ops: dict[tuple[int, int], str], channels: int, dim: int) -> None:
        super().__init__()
        self.ops = ops
        self.edges = nn.ModuleDict({
            edge_label(to, src): make_op(op, channels, channels, 1, dim)
            for (to, src), op in ops.items() if op != "none"
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in range(1, NODES):
            inputs = [self.edges[edge_label(to, src)](nodes[src])
                      for src in range(to) if self.ops[(to, src)] != "none"]
            nodes.append(sum(inputs[1:], inputs[0]) if inputs else torch.zeros_like(x))
        return nodes[-1]


class NB201Network(nn.Module):
    """NB201's macro skeleton around any cell module; ``make_cell(channels)`` builds one cell."""

    def __init__(self, make_cell: object, shape: Shape, channels: int, cells_per_stage: int
                 ) -> None:
        super().__init__()
        dim = shape.dim
        self.stem = nn.Sequential(
            conv(dim, shape.input_shape[0], channels, 3, padding=1, bias=False),
            batch_norm(dim, channels),
        )
        layers: list[nn.Module] = []
        c_prev = channels
        for stage in range(3):
            c = channels * 2**stage
            if stage > 0:
                layers.append(ResNetBasicBlock(c_prev, c, 2, dim))
            layers.extend(make_cell(c) for _ in range(cells_per_stage))  # type: ignore[operator]
            c_prev = c
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(batch_norm(dim, c_prev), nn.ReLU(inplace=True))
        self.pool = global_avg_pool(dim)
        self.classifier = nn.Linear(c_prev, shape.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.pool(out).flatten(1))  # (batch, classes)


@SPACES.register("nb201")
class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell space. ``C`` channels in the first stage, ``N`` cells a stage."""

    name = "nb201"

    def __init__(self, C: int = 16, N: int = 5) -> None:
        if C <= 0 or N <= 0:
            raise ArchitectureError(f"nb201 needs C > 0 and N > 0, got C={C}, N={N}")
        self.C, self.N = C, N
        self._decisions = tuple(Categorical(edge_label(*e), NB201_OPS) for e in EDGES)
        self._cost_cache: dict[Shape, tuple[Cost, dict[str, Cost]]] = {}

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return self._decisions

    def options(self) -> dict[str, int]:
        return {"C": self.C, "N": self.N}

    def edge_ops(self, arch: Architecture) -> dict[tuple[int, int], str]:
        self.validate(arch)
        return {e: str(arch[edge_label(*e)]) for e in EDGES}

    def from_edge_ops(self, ops: dict[tuple[int, int], str]) -> Architecture:
        return Architecture({edge_label(*e): ops[e] for e in EDGES})

    def parse(self, text: str) -> Architecture:
        text = text.strip()
        if text.startswith("{"):
            return super().parse(text)
        return self.from_edge_ops(parse_arch_str(text))

    def format(self, arch: Architecture) -> str:
        ops = self.edge_ops(arch)
        return "+".join(
            "|" + "|".join(f"{ops[(to, src)]}~{src}" for src in range(to)) + "|"
            for to in range(1, NODES)
        )

    def key(self, arch: Architecture) -> str:
        return unique_str(self.edge_ops(arch))

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        ops = self.edge_ops(arch)
        return NB201Network(lambda c: NB201Cell(ops, c, shape.dim), shape, self.C, self.N)

    def cost(self, arch: Architecture, shape: Shape) -> Cost:
        """Exact parameters and FLOPs without building the network: every edge of every cell
        maps C channels to C at stride 1 and runs whatever the other edges are, so the cost is
        the all-`none` network's plus one increment per edge op (each measured once per
        shape). Building and measuring a network took about 0.2 s a cell, too slow for
        FLOPs-binned path sampling, which prices thousands of paths."""
        base, increments = self._cost_parts(shape)
        ops = self.edge_ops(arch).values()
        return Cost(params=base.params + sum(increments[o].params for o in ops),
                    flops=base.flops + sum(increments[o].flops for o in ops))

    def _cost_parts(self, shape: Shape) -> tuple[Cost, dict[str, Cost]]:
        if shape not in self._cost_cache:
            def measured(first_edge_op: str) -> Cost:
                ops = {e: "none" for e in EDGES}
                ops[EDGES[0]] = first_edge_op
                return measure(self.build(self.from_edge_ops(ops), shape), shape.input_shape)

            base = measured("none")
            increments = {}
            for op in NB201_OPS:
                one = measured(op)
                increments[op] = Cost(params=one.params - base.params,
                                      flops=one.flops - base.flops)
            self._cost_cache[shape] = (base, increments)
        return self._cost_cache[shape]
