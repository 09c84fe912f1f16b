"""Perturbation-based architecture selection (DARTS-PT)."""

from __future__ import annotations

import logging
from typing import Any

import torch

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.progress import Progress
from nasforge.registry import SELECTIONS
from nasforge.selection.base import Selection, SelectionContext
from nasforge.training import split_batches

log = logging.getLogger(__name__)
MEASUREMENT_SEED = 7_919  # the fixed order of the valid batches of every measurement


@SELECTIONS.register("perturbation")
class PerturbationSelection(Selection):
    """DARTS-PT (Wang et al., ICLR 2021, Algorithm 1 and Sec. 4).

    An op's strength is how much the supernet's validation accuracy drops when that op is
    removed from its edge. Progressive: each round takes one undecided edge per edge group
    (DARTS: one normal and one reduction edge; NB201: one edge), in random order; on the edge,
    masks each op in turn (its weight set to zero, no renormalisation), measures validation
    accuracy, keeps the op whose removal gives the LOWEST accuracy, and discretizes the edge;
    then fine-tunes the supernet for ``finetune_epochs``. For spaces with a topology choice,
    then, on one node per group per round (random order) with more than ``inputs_per_node``
    inputs, repeatedly removes the incoming edge whose removal gives the HIGHEST accuracy.

    As in the authors' code (ruocwang/darts-pt), every op of the edge is a candidate (``none``
    included; ties go to the earlier op), validation accuracy is measured with batch norm in
    train mode, and fine-tuning continues the bilevel steps at a tenth of the learning rate.
    ``valid_batches`` caps the batches of each measurement (None = the whole valid split).
    """

    def __init__(self, finetune_epochs: int = 5, valid_batches: int | None = None) -> None:
        if finetune_epochs < 0 or (valid_batches is not None and valid_batches <= 0):
            raise ConfigError("selection.finetune_epochs must be >= 0 and "
                              "selection.valid_batches positive")
        self.finetune_epochs, self.valid_batches = finetune_epochs, valid_batches

    def select(self, ctx: SelectionContext) -> Architecture:
        state = ctx.state or {"decided": {}, "removed": [], "rounds": 0, "finetuned": 0}
        if ctx.state is None:
            ctx.scores.clear()
        else:
            ctx.scores[:] = state.get("scores", [])
        net = ctx.supernet
        edges = sum(len(group) for group in net.edge_groups())
        with Progress("PT selection", edges, initial=len(state["decided"]), unit="edge",
                      progress=ctx.progress) as bar:
            while self._round(ctx, state, bar):
                state["rounds"] += 1
                if self._pending(ctx, state):  # no fine-tuning after the last decision
                    self._finetune(ctx, state)
                ctx.save({**state, "scores": list(ctx.scores)})
        kept = {e: op for e, op in state["decided"].items() if e not in state["removed"]}
        return net.to_architecture(kept)

    def _pending(self, ctx: SelectionContext, state: dict[str, Any]) -> bool:
        """Whether any op or topology decision is left."""
        return any(_undecided(ctx, state)) or bool(_crowded_nodes(ctx, state))

    def _round(self, ctx: SelectionContext, state: dict[str, Any], bar: Progress) -> bool:
        """One round: an op decision per group, else a topology decision per group. False when
        nothing is left to decide."""
        pending = _undecided(ctx, state)
        where = f"round {state['rounds'] + 1}"
        if any(pending):
            for group in pending:
                if group:
                    edge = group[int(ctx.rng.integers(len(group)))]
                    bar.status(f"{where}: scoring the ops of edge {edge}")
                    state["decided"][edge] = self._decide_op(ctx, edge)
                    bar.advance(1, f"{where}: edge {edge} -> {state['decided'][edge]}")
            return True
        nodes = _crowded_nodes(ctx, state)
        if not nodes:
            return False
        for group in _group_nodes(nodes):
            node = group[int(ctx.rng.integers(len(group)))]
            bar.status(f"{where}: choosing the inputs of node {node}")
            self._prune_node(ctx, state, node)
            dropped = [e for e in state["removed"] if e in ctx.supernet.node_inputs()[node]]
            bar.status(f"{where}: node {node} drops {', '.join(dropped)}")
        return True

    def _decide_op(self, ctx: SelectionContext, edge: str) -> str:
        net = ctx.supernet
        e = net.arch_state.edge_index(edge)
        scores = {}
        for op in net.edge_ops[e]:
            net.mask(edge, op)
            scores[op] = self.valid_accuracy(ctx)
            net.unmask(edge, op)
            ctx.scores.append({"step": "op", "edge": edge, "removed": op, "valid_acc": scores[op]})
        chosen = min(scores, key=lambda op: scores[op])
        net.discretize(edge, chosen)
        log.info("PT: %s -> %s (%s)", edge, chosen, scores)
        return chosen

    def _prune_node(self, ctx: SelectionContext, state: dict[str, Any], node: str) -> None:
        net = ctx.supernet
        while True:
            inputs = [e for e in net.node_inputs()[node] if e not in state["removed"]]
            if len(inputs) <= net.inputs_per_node:
                return
            scores = {}
            for edge in inputs:
                _remove_edge(ctx, edge)
                scores[edge] = self.valid_accuracy(ctx)
                net.unmask(edge)
                ctx.scores.append({"step": "topology", "node": node, "removed": edge,
                                   "valid_acc": scores[edge]})
            drop = max(scores, key=lambda edge: scores[edge])
            _remove_edge(ctx, drop)
            state["removed"].append(drop)

    def _finetune(self, ctx: SelectionContext, state: dict[str, Any]) -> None:
        with Progress(f"PT fine-tune after round {state['rounds']}", self.finetune_epochs,
                      unit="epoch", progress=ctx.progress, leave=False) as bar:
            for _ in range(self.finetune_epochs):
                ctx.strategy.finetune_epoch(state["finetuned"])
                state["finetuned"] += 1
                bar.advance(1)

    @torch.no_grad()
    def valid_accuracy(self, ctx: SelectionContext) -> float:
        """Supernet accuracy (%) on the valid split, batch norm in train mode (the authors').
        Batch statistics make the batches' mix matter: they are drawn at random, as the
        authors' valid queue does, the same ones for every measurement (a task stored class
        by class would otherwise give single-class batches, and a capped measurement only
        the first classes). The forward is the training step's (compiled when the run
        compiles: in its static form a mask changes no graph); the count is read once."""
        ctx.supernet.train()
        correct: torch.Tensor | int = 0
        count = 0
        for x, y in split_batches(ctx.task, "valid", ctx.runtime, shuffle=True,
                                  seed=MEASUREMENT_SEED, max_batches=self.valid_batches):
            correct = correct + (ctx.strategy.forward(x).argmax(1) == y).sum()
            count += len(y)
        return 100.0 * float(correct) / max(count, 1)


def _undecided(ctx: SelectionContext, state: dict[str, Any]) -> list[list[str]]:
    """The edges without an op decision yet, per edge group."""
    return [[e for e in group if e not in state["decided"]]
            for group in ctx.supernet.edge_groups()]


def _crowded_nodes(ctx: SelectionContext, state: dict[str, Any]) -> list[str]:
    """Nodes that still have more inputs than they keep."""
    net = ctx.supernet
    return [n for n, edges in sorted(net.node_inputs().items())
            if len([e for e in edges if e not in state["removed"]]) > net.inputs_per_node]


def _remove_edge(ctx: SelectionContext, edge: str) -> None:
    net = ctx.supernet
    for op in net.edge_ops[net.arch_state.edge_index(edge)]:
        net.mask(edge, op)


def _group_nodes(nodes: list[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for node in nodes:
        groups.setdefault(node.split("/")[0] if "/" in node else "", []).append(node)
    return list(groups.values())
