"""Peer supernets for ``supernet_speed.py``: xautodl's (Dong & Yang, the NAS-Bench-201 authors'
library; ``pip install --no-deps xautodl``, optional, benchmark-only), the structure of the
official DARTS search network (quark0/darts ``cnn/model_search.py``) counted from its
description, FLOP counting and the machine's matmul rate.

xautodl variants, as shipped (``affine=False``, ``track_running_stats=False``, as in its
DARTS-V1 NB201 search and our supernets):

- NB201: ``TinyNetworkDarts`` (DARTS-V1 on NAS-Bench-201), and the same with the model and
  input in channels-last memory format;
- DARTS space: ``NASNetworkDARTS``. Its macro skeleton has 3N cells (N normal, reduction,
  N-1 normal, reduction, N-1 normal), so it cannot build DARTS's 8; N=2 gives 6 cells laid out
  as our ``DartsSupernet(layers=6)`` (reductions at cells 2 and 4), the like-for-like pair.

Both return ``(features, logits)`` and keep alpha inside; :class:`Peer` adapts them to the
benchmark's ``set_weights`` / logits interface (alpha stays theirs: its softmax is computed in
their forward, as our weights are from our alpha in the step).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

MATMUL_N = 2048


def xautodl_available() -> bool:
    return importlib.util.find_spec("xautodl") is not None


class Peer(nn.Module):
    """A peer network: logits out, ``set_weights`` ignored (the peer owns its alpha)."""

    def __init__(self, net: nn.Module, channels_last: bool = False) -> None:
        super().__init__()
        self.net, self.channels_last = net, channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)

    def set_weights(self, w: torch.Tensor) -> None:
        del w  # the peer's forward takes softmax of its own alpha

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """The operation weights (what the DARTS weight step updates), not alpha."""
        yield from self.net.get_weights()  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        _, logits = self.net(x)
        return logits  # type: ignore[no-any-return]


def xautodl_nb201(c: int, n: int, classes: int, channels_last: bool = False) -> Peer:
    from xautodl.models.cell_operations import SearchSpaceNames
    from xautodl.models.cell_searchs import TinyNetworkDarts

    net = TinyNetworkDarts(c, n, 4, classes, SearchSpaceNames["nas-bench-201"], False, False)
    return Peer(net, channels_last)


def xautodl_darts(c: int, n: int, classes: int) -> Peer:
    from xautodl.models.cell_operations import SearchSpaceNames
    from xautodl.models.cell_searchs import NASNetworkDARTS

    return Peer(NASNetworkDARTS(c, n, 4, 4, 3, classes, SearchSpaceNames["darts"], False,
                                False))


def module_counts(model: nn.Module) -> dict[str, int]:
    return {"convolutions": sum(isinstance(m, nn.Conv2d) for m in model.modules()),
            "parameters": sum(p.numel() for p in model.parameters())}


def official_darts_counts(c: int, layers: int, classes: int = 10) -> dict[str, int]:
    """Convolutions and parameters of the official DARTS search network (``Network(C, classes,
    layers)`` of quark0/darts ``cnn/model_search.py``, 4 steps, multiplier 4, stem x3), from its
    structure: stem conv 3x3 + affine BN; per cell a 1x1 ReLU-conv-BN per input (a factorized
    reduce, two 1x1 convs of half the outputs, after a reduction); per edge the 8 ops, BNs
    without affine: sep convs = 2 x (depthwise k x k + pointwise), dil convs = depthwise +
    pointwise, skip = identity or (stride 2) a factorized reduce; reductions at layers//3 and
    2*layers//3; linear classifier. No conv has a bias."""
    stem = 3 * c
    convs, params = 1, 3 * stem * 9 + 2 * stem
    c_pp, c_p, cur, reduction_prev = stem, stem, c, False
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        cur *= 2 if reduction else 1
        convs += (2 if reduction_prev else 1) + 1
        params += (c_pp + c_p) * cur  # a factorized reduce has c_pp * cur too
        per_edge_convs, per_edge_params = 12, 2 * (9 + 25) * cur + (9 + 25) * cur + 6 * cur ** 2
        convs += 14 * per_edge_convs + (8 * 2 if reduction else 0)  # 8 stride-2 skips
        params += 14 * per_edge_params + (8 * cur ** 2 if reduction else 0)
        c_pp, c_p, reduction_prev = c_p, 4 * cur, reduction
    return {"convolutions": convs, "parameters": params + c_p * classes + classes}


def flops_per_sample(model: nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one training step per sample: convolutions and matrix products of the forward
    (torch's FlopCounterMode) times 3, the backward computing the input and the weight
    gradients at a forward's cost each. Not the counter's own backward figures: they
    overcount grouped (depthwise) convolutions by the group count (a depthwise 3x3's backward
    counted as 65x its forward)."""
    with FlopCounterMode(display=False) as counter:  # with grad: the step's own forward
        model(x)
    return 3.0 * float(counter.get_total_flops()) / x.shape[0]


def matmul_step(n: int = MATMUL_N) -> Callable[[], None]:
    """One ``n x n`` float32 matmul (2 n^3 FLOPs): the machine's rate for dense work, timed
    in the same interleaved loop as the supernets so it sees the same load."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)

    def run() -> None:
        torch.mm(a, b)

    return run


def matmul_flops(n: int = MATMUL_N) -> float:
    return 2.0 * n ** 3
