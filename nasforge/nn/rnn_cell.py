"""The tree-structured recurrent cell of Zoph & Le (ICLR 2017, Sec. 3.4, Fig. 5), unrolled
over time, and the word-level language model it is searched in.

A cell with ``base`` leaves is a full binary tree of ``2 * base - 1`` nodes, indexed as the
controller visits them: the leaves ``0 .. base-1`` first, then each level of inner nodes left
to right, the root last. Inner node ``n`` combines nodes ``2 (n - base)`` and
``2 (n - base) + 1`` (Fig. 5: leaves 0 and 1, root 2). Plain data, no weights:
:class:`CellSpec`; the module: :class:`TreeCell`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

COMBINATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": torch.add,
    "elem_mult": torch.mul,
}
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": lambda x: x,
}

State = Any  # a recurrent layer's state: (h, c) for the tree cell and nn.LSTM


@dataclass(frozen=True)
class CellSpec:
    """One tree cell: ``nodes[i] = (combination, activation)`` of tree index i; c_{t-1} is
    combined into the output of node ``c_prev_node`` as act(comb(a_i, c_{t-1})) with
    ``inject = (comb, act)``; c_t is node ``c_t_node``'s combination before its activation
    (and so before any injection, when both indices name the same node)."""

    base: int
    nodes: tuple[tuple[str, str], ...]
    inject: tuple[str, str]
    c_t_node: int
    c_prev_node: int

    def __post_init__(self) -> None:
        if self.base < 2 or self.base & (self.base - 1):
            raise ValueError(f"base must be a power of two >= 2, got {self.base}")
        if len(self.nodes) != num_nodes(self.base):
            raise ValueError(f"a base-{self.base} tree has {num_nodes(self.base)} nodes, "
                             f"got {len(self.nodes)}")
        for index in (self.c_t_node, self.c_prev_node):
            if not 0 <= index < len(self.nodes):
                raise ValueError(f"cell index {index} is not a node of the tree")

    @property
    def root(self) -> int:
        return len(self.nodes) - 1

    def children(self, node: int) -> tuple[int, int]:
        """The two inputs of inner node ``node`` (leaves have none)."""
        first = 2 * (node - self.base)
        return first, first + 1


def num_nodes(base: int) -> int:
    return 2 * base - 1


def tree_level(base: int, node: int) -> int:
    """0 for a leaf, 1 for the nodes above the leaves, ..., log2(base) for the root."""
    level, start, width = 0, 0, base
    while node >= start + width:
        start, width, level = start + width, width // 2, level + 1
    return level


class TreeCell(nn.Module):
    """One step of the searched cell (Zoph & Le 2017, Sec. 3.4 and Fig. 5).

    Leaf i computes a_i = act_i(comb_i(W_i x_t, U_i h_{t-1})) (Fig. 5: a_0 = tanh(W_1 x_t +
    W_2 h_{t-1}), a_1 = ReLU((W_3 x_t) * (W_4 h_{t-1}))); inner node n computes
    a_n = act_n(comb_n(a_left, a_right)) and has no weights. The node chosen by the second
    cell index gets c_{t-1}: a_n <- act_inj(comb_inj(a_n, c_{t-1})) (Fig. 5: a_0 <- ReLU(a_0 +
    c_{t-1})); c_t is the first cell index's node before its activation (Fig. 5: c_t =
    (W_3 x_t) * (W_4 h_{t-1})); h_t is the root's output (Fig. 5: a_2).
    All W_i are rows of one ``w`` (input -> base * hidden) and all U_i of one ``u``, so each
    step costs two matrix products; ``leaf_weights(i)`` gives (W_i, U_i).
    Note: no biases by default, as in the paper's equations (``bias=True`` adds them to W x).
    """

    def __init__(self, spec: CellSpec, input_size: int, hidden_size: int,
                 bias: bool = False) -> None:
        super().__init__()
        self.spec, self.hidden_size = spec, hidden_size
        self.w = nn.Linear(input_size, spec.base * hidden_size, bias=bias)
        self.u = nn.Linear(hidden_size, spec.base * hidden_size, bias=False)

    def leaf_weights(self, leaf: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(W_leaf, U_leaf): views into ``w`` and ``u``, each (hidden, in)."""
        rows = slice(leaf * self.hidden_size, (leaf + 1) * self.hidden_size)
        return self.w.weight[rows], self.u.weight[rows]

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(h_t, c_t) from x_t (batch, in) and (h_{t-1}, c_{t-1}), each (batch, hidden)."""
        return self.step(self.w(x), state)

    def step(self, wx: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step given W x_t of every leaf, ``wx`` (batch, base * hidden), precomputed
        for all time steps at once by :class:`RecurrentLayer`."""
        spec = self.spec
        h_prev, c_prev = state
        wx_leaves = wx.chunk(spec.base, dim=-1)
        uh_leaves = self.u(h_prev).chunk(spec.base, dim=-1)
        outputs: list[torch.Tensor] = []
        c_t = c_prev
        for node, (comb, act) in enumerate(spec.nodes):
            if node < spec.base:
                left, right = wx_leaves[node], uh_leaves[node]
            else:
                left, right = (outputs[i] for i in spec.children(node))
            combined = COMBINATIONS[comb](left, right)
            if node == spec.c_t_node:
                c_t = combined  # the new memory: this node before its activation
            out = ACTIVATIONS[act](combined)
            if node == spec.c_prev_node:
                out = ACTIVATIONS[spec.inject[1]](COMBINATIONS[spec.inject[0]](out, c_prev))
            outputs.append(out)
        return outputs[spec.root], c_t


class RecurrentLayer(nn.Module):
    """The cell unrolled over a sequence: (seq, batch, in) -> (seq, batch, hidden) and the
    final (h, c); a missing state starts at zeros."""

    def __init__(self, spec: CellSpec, input_size: int, hidden_size: int,
                 bias: bool = False) -> None:
        super().__init__()
        self.cell = TreeCell(spec, input_size, hidden_size, bias)
        self.hidden_size = hidden_size

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if state is None:
            zeros = x.new_zeros(x.size(1), self.hidden_size)
            state = (zeros, zeros)
        wx = self.cell.w(x)  # (seq, batch, base * hidden): the input half of every leaf
        outputs = []
        for t in range(x.size(0)):
            state = self.cell.step(wx[t], state)
            outputs.append(state[0])
        return torch.stack(outputs), state  # (seq, batch, hidden)


class LSTMLayer(nn.Module):
    """A one-layer ``nn.LSTM`` with the same call as :class:`RecurrentLayer`: the reference
    baseline a searched cell is compared with."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, (h, c) = self.lstm(x, state)
        return out, (h, c)


def detach_state(state: State) -> State:
    """The state cut from the graph of the previous BPTT window (truncated BPTT)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(s) for s in state)
    return state


class LanguageModel(nn.Module):
    """A word-level language model: embedding -> dropout -> recurrent layers (dropout between
    them) -> dropout -> linear decoder over the vocabulary, dropout on the non-recurrent
    connections only (Zaremba et al. 2014, the baseline setting of Zoph & Le's PTB search).
    ``forward(tokens (seq, batch), state)`` returns the logits (seq, batch, vocab) and the
    final state per layer, which the caller carries into the next BPTT window (detached).
    The decoder shares the embedding matrix when ``tie_weights`` and emb == hidden (Press &
    Wolf 2017; Inan et al. 2017)."""

    def __init__(self, vocab_size: int, emb: int, hidden: int, layers: Sequence[nn.Module],
                 dropout: float = 0.0, tie_weights: bool = True) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb)
        self.rnns = nn.ModuleList(layers)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocab_size)
        self.tied = tie_weights and emb == hidden
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if self.tied:
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, tokens: torch.Tensor, state: list[State] | None = None
                ) -> tuple[torch.Tensor, list[State]]:
        x = self.drop(self.embedding(tokens))  # (seq, batch, emb)
        states = list(state) if state is not None else [None] * len(self.rnns)
        new_states = []
        for rnn, layer_state in zip(self.rnns, states, strict=True):
            x, layer_state = rnn(x, layer_state)
            new_states.append(layer_state)
            x = self.drop(x)  # (seq, batch, hidden)
        return self.decoder(x), new_states  # (seq, batch, vocab)


class SequenceClassifier(nn.Module):
    """The cell on a classification task: an input (C, L) is read as L steps of C features,
    (C, H, W) as H rows of C * W features; a linear head classifies the last h."""

    def __init__(self, layer: RecurrentLayer, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.rnn = layer
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.movedim(2, 0).flatten(2)  # (steps, batch, features)
        out, _ = self.rnn(seq)
        return self.head(out[-1])  # type: ignore[no-any-return]
