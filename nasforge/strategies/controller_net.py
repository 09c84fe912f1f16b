"""The controller network of Zoph & Le (ICLR 2017): an LSTM that writes an architecture one
token at a time, with a softmax per token kind and anchor-point attention for connections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Step:
    """One controller step. A token step scores one categorical decision with the softmax of
    its ``kind``. An anchor step (``layer`` = i) is layer i's anchor point: it records the
    hidden state h_i and emits one bit per label in ``inputs`` (layer j is an input of i)."""

    kind: str = ""
    layer: int | None = None
    inputs: tuple[int, ...] = ()  # the earlier layers j of an anchor step, one bit each

    @property
    def n_tokens(self) -> int:
        return 1 if self.layer is None else len(self.inputs)


class ControllerNet(nn.Module):
    """``layers``-layer LSTM of ``hidden`` units (paper: 2 x 35). Each token kind has its own
    softmax classifier and embedding table; the chosen token's embedding is the next input
    (Sec. 3.1). Connections use set-selection attention (Sec. 3.3):
    P(j -> i) = sigmoid(v^T tanh(W_prev h_j + W_curr h_i)), h_j the hidden state at layer j's
    anchor step. Parameters start uniform in [-init, init] (paper: 0.08)."""

    def __init__(self, kinds: dict[str, int], hidden: int = 35, layers: int = 2,
                 init: float = 0.08, temperature: float = 1.0, tanh_constant: float | None = None
                 ) -> None:
        super().__init__()
        self.kinds = dict(sorted(kinds.items()))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers)
        self.heads = nn.ModuleDict({k: nn.Linear(hidden, n) for k, n in self.kinds.items()})
        self.embeddings = nn.ModuleDict({k: nn.Embedding(n, hidden) for k, n in self.kinds.items()})
        self.start = nn.Parameter(torch.zeros(1, 1, hidden))  # the first step's input
        self.anchor_input = nn.Parameter(torch.zeros(1, 1, hidden))  # input after a connection
        self.w_prev = nn.Linear(hidden, hidden, bias=False)
        self.w_curr = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.temperature, self.tanh_constant = temperature, tanh_constant
        for p in self.parameters():
            nn.init.uniform_(p, -init, init)

    def logits(self, kind: str, h: torch.Tensor) -> torch.Tensor:
        out = self.heads[kind](h) / self.temperature
        if self.tanh_constant is not None:  # ENAS's option: bounded logits
            out = self.tanh_constant * torch.tanh(out)
        return out

    def run(self, steps: Sequence[Step], given: Sequence[int] | None = None,
            generator: torch.Generator | None = None) -> tuple[list[int], torch.Tensor,
                                                               torch.Tensor]:
        """Walk the steps, sampling each token (or replaying ``given``); returns the tokens
        (anchor bits included, in order), the summed log-probability and entropy (with
        gradients, for REINFORCE and the entropy bonus)."""
        x, state = self.start, None
        anchors: dict[int, torch.Tensor] = {}
        tokens: list[int] = []
        log_prob, entropy = self.start.new_zeros(()), self.start.new_zeros(())
        device = self.start.device  # tokens are made where the controller is
        for step in steps:
            out, state = self.lstm(x, state)
            h = out[0, 0]
            dists = self._distributions(step, h, anchors)
            for dist in dists:
                token = given[len(tokens)] if given is not None else _sample(dist, generator)
                tokens.append(token)
                log_prob = log_prob + dist.log_prob(self.start.new_tensor(token)
                                                    if step.layer is not None
                                                    else torch.tensor(token, device=device))
                entropy = entropy + dist.entropy()
            if step.layer is None:
                x = self.embeddings[step.kind](torch.tensor([[tokens[-1]]], device=device))
            else:
                anchors[step.layer] = h
                x = self.anchor_input
        return tokens, log_prob, entropy

    def _distributions(self, step: Step, h: torch.Tensor, anchors: dict[int, torch.Tensor]
                       ) -> list[torch.distributions.Distribution]:
        if step.layer is None:
            return [torch.distributions.Categorical(logits=self.logits(step.kind, h))]
        current = self.w_curr(h)
        return [torch.distributions.Bernoulli(
            logits=self.v(torch.tanh(self.w_prev(anchors[j]) + current)).squeeze(-1))
            for j in step.inputs]


def _sample(dist: torch.distributions.Distribution, generator: torch.Generator | None) -> int:
    """A draw from ``dist`` with an explicit generator (reproducible, resumable)."""
    if isinstance(dist, torch.distributions.Bernoulli):
        return int(torch.rand((), generator=generator) < dist.probs.detach())
    assert isinstance(dist, torch.distributions.Categorical)
    return int(torch.multinomial(dist.probs.detach(), 1, generator=generator))
