"""One mixed op for every supernet mode.

An edge holds every candidate op; it is driven by a weight per op. The modes are all weight
patterns, so there is one code path:

- weighted (DARTS): softmax(alpha), every op computed and summed;
- single path (SPOS, controller sampling): a one-hot vector, only that op runs;
- masked (DARTS-PT): one op's weight set to zero (no renormalisation), that op is skipped;
- discretized: an edge fixed to one op, one-hot from then on.

Ops with a zero weight are never run, and ``none`` is never run (it contributes zeros), so a
masked or discretized edge costs only what it computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasforge.spaces.ops import Zero, make_op


class MixedOp(nn.Module):
    """``sum_o w_o * op_o(x)`` over the ops whose weight is not zero."""

    def __init__(self, op_names: Sequence[str], c_in: int, c_out: int, stride: int, dim: int,
                 affine: bool = False) -> None:
        super().__init__()
        self.op_names = tuple(op_names)
        self.ops = nn.ModuleList(make_op(n, c_in, c_out, stride, dim, affine) for n in op_names)
        self.zero = Zero(c_in, c_out, stride, dim)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: Sequence[int]
                ) -> torch.Tensor:
        """``weights``: (n_ops,); ``active``: indices of the ops to run (non-zero weight and
        not ``none``), computed once per step by the supernet, not per edge and cell."""
        out: torch.Tensor | None = None
        for i in active:
            y = self.ops[i](x) * weights[i]
            out = y if out is None else out + y
        return self.zero(x) if out is None else out
