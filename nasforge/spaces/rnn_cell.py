"""The recurrent-cell space of Zoph & Le (ICLR 2017, Sec. 3.4 "Generate recurrent cell
architectures", Fig. 5; Sec. 4.2 Penn Treebank), registered as ``rnn_cell``.

A cell is a full binary tree with ``base`` leaves (the paper's "base number", 8 in its PTB
search). The controller labels every node, in index order, with a combination (add,
elem_mult) and an activation (tanh, relu, sigmoid, identity), then the "cell inject" pair
(how c_{t-1} is combined in) and the two "cell indices" (the first: which node's
pre-activation becomes c_t; the second: which node receives c_{t-1}). Decisions, in that
order::

    node00_comb, node00_act, ..., nodeNN_comb, nodeNN_act,
    inject_comb, inject_act, c_t_node, c_prev_node

Fig. 5's example (base 2) is the token sequence add, tanh, elem_mult, relu, elem_mult,
sigmoid, add, relu, 1, 0; its text form (``format``/``parse``)::

    0:add/tanh 1:elem_mult/relu 2:elem_mult/sigmoid inject:add/relu c_t:1 c_prev:0

With base 8: 8^15 (nodes) x 8 (inject) x 15^2 (indices) ~ 6.3e16 cells, the paper's
"approximately 6 x 10^16". ``build(arch, shape)`` gives the word-level language model of
:mod:`nasforge.nn.rnn_cell` for a :class:`TokenShape` (what the ``lm`` evaluator trains) and a
sequence classifier for any other task shape.
Note: the paper draws only the base-2 tree; larger trees are indexed level by level, leaves
first (:mod:`nasforge.nn.rnn_cell`), the layout of the base-8 cell it published (TensorFlow's
NASCell: 8 leaves, then 4, 2, 1 nodes).
Note: the model sizes (``hidden``, ``emb``, ``layers``, ``dropout``, ``tie_weights``) are
options of the space, as the DARTS space's C and layers are, so ``best.json`` alone rebuilds
the trained network. The paper's child models had 2 layers; ``layers`` defaults to 1 here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError, ConfigError
from nasforge.nn.counting import Cost, count_params
from nasforge.nn.rnn_cell import (
    ACTIVATIONS,
    COMBINATIONS,
    CellSpec,
    LanguageModel,
    LSTMLayer,
    RecurrentLayer,
    SequenceClassifier,
    num_nodes,
)
from nasforge.registry import SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.task import Shape

INJECT = ("inject_comb", "inject_act")
C_T, C_PREV = "c_t_node", "c_prev_node"


@dataclass(frozen=True)
class TokenShape(Shape):
    """A word-level language-model task: ``input_shape = (bptt,)`` token ids per sequence,
    ``num_classes`` = the vocabulary size."""


def token_shape(vocab_size: int, bptt: int) -> TokenShape:
    return TokenShape((bptt,), vocab_size)


def node_label(node: int, what: str) -> str:
    return f"node{node:02d}_{what}"


@SPACES.register("rnn_cell")
class RnnCellSpace(SearchSpace):
    """See the module docstring (Zoph & Le 2017, Sec. 3.4, Fig. 5). Options: ``base`` (leaves,
    a power of two; paper 8), ``hidden``, ``emb`` (default = hidden, so the decoder is tied),
    ``layers``, ``dropout``, ``tie_weights``, ``bias`` (leaf biases; the paper has none)."""

    name = "rnn_cell"

    def __init__(self, base: int = 8, hidden: int = 64, emb: int | None = None,
                 layers: int = 1, dropout: float = 0.0, tie_weights: bool = True,
                 bias: bool = False) -> None:
        if base < 2 or base & (base - 1):
            raise ConfigError(f"rnn_cell.base must be a power of two >= 2, got {base}")
        if hidden < 1 or (emb is not None and emb < 1) or layers < 1:
            raise ConfigError("rnn_cell needs hidden >= 1, emb >= 1 and layers >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"rnn_cell.dropout must be in [0, 1), got {dropout}")
        self.base, self.hidden, self.emb = base, hidden, emb or hidden
        self.layers, self.dropout = layers, dropout
        self.tie_weights, self.bias = tie_weights, bias
        self._decisions = self._make_decisions()

    def _make_decisions(self) -> tuple[Categorical, ...]:
        """In the controller's order (Fig. 5): each node's combination then activation, the
        cell-inject pair, then the cell indices (c_t's node first, c_{t-1}'s second)."""
        combs, acts = list(COMBINATIONS), list(ACTIVATIONS)
        nodes = list(range(num_nodes(self.base)))
        out: list[Categorical] = []
        for node in nodes:
            out += [Categorical(node_label(node, "comb"), combs),
                    Categorical(node_label(node, "act"), acts)]
        out += [Categorical(INJECT[0], combs), Categorical(INJECT[1], acts),
                Categorical(C_T, nodes), Categorical(C_PREV, nodes)]
        return tuple(out)

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return self._decisions

    def options(self) -> dict[str, Any]:
        return {"base": self.base, "hidden": self.hidden, "emb": self.emb,
                "layers": self.layers, "dropout": self.dropout,
                "tie_weights": self.tie_weights, "bias": self.bias}

    def spec(self, arch: Architecture) -> CellSpec:
        """The cell as plain data."""
        arch = self.validate(arch)
        nodes = tuple((str(arch[node_label(i, "comb")]), str(arch[node_label(i, "act")]))
                      for i in range(num_nodes(self.base)))
        return CellSpec(self.base, nodes, (str(arch[INJECT[0]]), str(arch[INJECT[1]])),
                        int(arch[C_T]), int(arch[C_PREV]))

    # --- networks ---------------------------------------------------------------------

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        spec = self.spec(arch)
        if isinstance(shape, TokenShape):
            return self._language_model(shape, lambda n_in: RecurrentLayer(
                spec, n_in, self.hidden, self.bias))
        features = shape.input_shape[0] * (shape.input_shape[2] if shape.dim == 2 else 1)
        return SequenceClassifier(RecurrentLayer(spec, features, self.hidden, self.bias),
                                  self.hidden, shape.num_classes)

    def build_lstm_baseline(self, shape: TokenShape) -> LanguageModel:
        """The reference: the same language model with LSTM layers of the same size
        (not an architecture of this space)."""
        return self._language_model(shape, lambda n_in: LSTMLayer(n_in, self.hidden))

    def _language_model(self, shape: TokenShape,
                        make_layer: Callable[[int], nn.Module]) -> LanguageModel:
        """``make_layer(input_size)`` makes one recurrent layer of ``hidden`` units."""
        inputs = [self.emb] + [self.hidden] * (self.layers - 1)
        return LanguageModel(shape.num_classes, self.emb, self.hidden,
                             [make_layer(n_in) for n_in in inputs], self.dropout,
                             self.tie_weights)

    def cost(self, arch: Architecture, shape: Shape) -> Cost:
        """Parameters, and multiply-adds of the matrix products per input sequence (one
        sequence of ``bptt`` tokens for a language model)."""
        model = self.build(arch, shape)
        per_step = self.base * self.hidden * (self.hidden + self.emb)  # W x_t and U h_{t-1}
        if isinstance(shape, TokenShape):
            per_step += (self.layers - 1) * self.base * 2 * self.hidden ** 2
            per_step += self.hidden * shape.num_classes  # the decoder
            return Cost(count_params(model), per_step * shape.input_shape[0])
        assert isinstance(model, SequenceClassifier)
        steps = shape.input_shape[1]
        features = model.rnn.cell.w.in_features
        recurrent = self.base * self.hidden * (self.hidden + features)
        return Cost(count_params(model), steps * recurrent + self.hidden * shape.num_classes)

    # --- text form --------------------------------------------------------------------

    def format(self, arch: Architecture) -> str:
        """``i:comb/act`` per node, then ``inject:comb/act c_t:i c_prev:j`` (module doc)."""
        spec = self.spec(arch)
        nodes = [f"{i}:{comb}/{act}" for i, (comb, act) in enumerate(spec.nodes)]
        return " ".join(nodes + [f"inject:{spec.inject[0]}/{spec.inject[1]}",
                                 f"c_t:{spec.c_t_node}", f"c_prev:{spec.c_prev_node}"])

    def parse(self, text: str) -> Architecture:
        if text.lstrip().startswith("{"):
            return super().parse(text)
        values: dict[str, Any] = {}
        for token in text.split():
            values.update(self._token_values(token))
        return self.validate(Architecture(values))

    def _token_values(self, token: str) -> dict[str, Any]:
        pair = re.fullmatch(r"(\d+|inject):(\w+)/(\w+)", token)
        if pair:
            where, comb, act = pair.groups()
            labels = INJECT if where == "inject" else (node_label(int(where), "comb"),
                                                       node_label(int(where), "act"))
            return {labels[0]: comb, labels[1]: act}
        index = re.fullmatch(r"(c_t|c_prev):(\d+)", token)
        if index:
            return {C_T if index.group(1) == "c_t" else C_PREV: int(index.group(2))}
        raise ArchitectureError(f"not an rnn_cell token: {token!r} (e.g. 0:add/tanh, "
                                f"inject:add/relu, c_t:1, c_prev:0)")
