"""Fused evaluation of the edges that leave one state of a DARTS search cell (the DARTS
counterpart of :mod:`nasforge.supernet.fused`).

Every edge out of a state reads the same tensor (and, in a reduction cell, has the same
stride), so in weighted mode much of their work is shared or batched:

- ``ReLU(x)`` is computed once for all the separable and dilated convolutions of the state;
- the separable (or dilated) convolutions of one kernel size run as one chain of grouped
  convolutions: the depthwise stages as one depthwise convolution over the edges' channels
  side by side, the pointwise stages as one convolution with one group per edge, their batch
  norms as one batch norm over all the channels (exact: batch norm is per channel), the last
  one carrying each edge's architecture weight as its per-channel scale;
- each pooling runs once per state; the batch norms DARTS puts after it (one per edge, each
  with its own statistics) run as one batch norm over copies side by side, scaled by the
  architecture weights;
- identity runs once (via :func:`nasforge.supernet.fused.run_branches`, as do the ops left).

Each edge keeps its own parameters and batch-norm statistics (written back as ``nn.BatchNorm``
would), so masking, discretizing, single-path training and export are unchanged; only the ops
each edge must run take part.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from nasforge.spaces.darts.ops import DilConv, Noise, SepConv
from nasforge.supernet.fused import (
    Branch,
    Term,
    batch_norm_key,
    fused_batch_norm,
    keeps,
    run_branches,
)

Stage = tuple[_ConvNd, _ConvNd, _BatchNorm]  # depthwise conv, pointwise conv, batch norm


def run_cell_branches(x: torch.Tensor, branches: Sequence[Branch], static: bool = False
                      ) -> list[Term]:
    """The terms ``w * op(x)`` of every branch out of one state, shared work done once
    (``static``: see ``nasforge.supernet.fused``)."""
    convs: dict[tuple[object, ...], list[Branch]] = {}
    pools: dict[tuple[object, ...], list[Branch]] = {}
    rest: list[Branch] = []
    out: list[Term] = []
    for b in branches:
        if isinstance(b.op, Noise):  # a fresh draw per edge, as edge by edge: never shared
            out.append((b.target, b.op(x), b.weight))
        elif isinstance(b.op, (SepConv, DilConv)) and _stages(b.op) is not None:
            convs.setdefault(_chain_key(b.op), []).append(b)
        elif _is_pool_bn(b.op):
            pools.setdefault(_pool_key(b.op), []).append(b)
        else:
            rest.append(b)
    if convs:
        relu = torch.relu(x)
        for group in convs.values():
            out.extend(_fused_chain(relu, group, static))
    for group in pools.values():
        out.extend(_fused_pool_bn(group[0].op[0](x), group, static))  # type: ignore[index]
    return out + run_branches(x, rest, static)


_STAGES: weakref.WeakKeyDictionary[nn.Module, list[Stage] | None] = weakref.WeakKeyDictionary()


def _stages(op: nn.Module) -> list[Stage] | None:
    """The (depthwise, pointwise, BN) stages of a SepConv (2) or DilConv (1), each after a
    ReLU; None if a layer is not of the fusable kind (bias, affine batch norm). Worked out
    once per op (the structure does not change), not on every forward."""
    if torch.compiler.is_compiling():  # traced once: no cache for the graph to guard on
        return _find_stages(op)
    if op not in _STAGES:
        _STAGES[op] = _find_stages(op)
    return _STAGES[op]


def _find_stages(op: nn.Module) -> list[Stage] | None:
    layers = list(op.children())
    stages: list[Stage] = []
    for i in range(0, len(layers), 4):
        relu, dw, pw, bn = layers[i:i + 4]
        ok = isinstance(relu, nn.ReLU) and isinstance(bn, _BatchNorm) and bn.weight is None \
            and dw.bias is None and pw.bias is None and pw.groups == 1 \
            and dw.groups == dw.in_channels == dw.out_channels
        if not ok:
            return None
        stages.append((dw, pw, bn))  # type: ignore[arg-type]
    return stages


def _chain_key(op: nn.Module) -> tuple[object, ...]:
    """Chains with equal keys run as one: same kind, geometry and batch-norm settings."""
    stages = _stages(op)
    assert stages is not None
    return (type(op),) + tuple(
        (type(dw), dw.kernel_size, dw.stride, dw.padding, dw.dilation, dw.in_channels,
         pw.out_channels, batch_norm_key(bn)) for dw, pw, bn in stages)


def _grouped_conv(x: torch.Tensor, convs: Sequence[_ConvNd], groups: int) -> torch.Tensor:
    """The convolutions ``convs`` (same geometry) on their slices of ``x`` side by side."""
    first = convs[0]
    weight = first.weight if len(convs) == 1 else torch.cat([c.weight for c in convs])
    fn = F.conv1d if isinstance(first, nn.Conv1d) else F.conv2d
    return fn(x, weight, None, first.stride, first.padding,  # type: ignore[call-overload]
              first.dilation, groups)


def _fused_chain(relu: torch.Tensor, group: Sequence[Branch], static: bool) -> list[Term]:
    n = len(group)
    chains = [_stages(b.op) for b in group]
    y = _run_chain(relu if n == 1 else torch.cat([relu] * n, 1), chains, n, group, static)
    return [(b.target, part, None) for b, part in zip(group, y.chunk(n, 1), strict=True)]


def _run_chain(x: torch.Tensor, chains: Sequence[list[Stage] | None], n: int,
               group: Sequence[Branch], static: bool) -> torch.Tensor:
    """``n`` chains on ``x`` (their ReLU'd inputs side by side); the last batch norm scaled by
    each branch's weight."""
    depth = len(chains[0])  # type: ignore[arg-type]
    keep = keeps(group, static)
    for s in range(depth):
        stage = [c[s] for c in chains]  # type: ignore[index]
        if s > 0:
            x = torch.relu(x)
        x = _grouped_conv(x, [dw for dw, _, _ in stage], x.shape[1])
        x = _grouped_conv(x, [pw for _, pw, _ in stage], n)
        scale = None
        if s == depth - 1:
            width = stage[0][1].out_channels
            scale = torch.cat([b.weight.reshape(1).expand(width) for b in group])
        x = fused_batch_norm(x, [bn for _, _, bn in stage], scale, keep)
    return x


def _is_pool_bn(op: nn.Module) -> bool:
    """DARTS's search-time pooling: ``Sequential(pool, BN(affine=False))``."""
    if not isinstance(op, nn.Sequential) or len(op) != 2:
        return False
    pool, bn = op[0], op[1]
    return isinstance(bn, _BatchNorm) and bn.weight is None \
        and next(pool.parameters(), None) is None and next(pool.buffers(), None) is None


def _pool_key(op: nn.Module) -> tuple[object, ...]:
    return (type(op[0]).__qualname__, repr(op[0]), batch_norm_key(op[1]))  # type: ignore[index]


def _fused_pool_bn(y: torch.Tensor, group: Sequence[Branch], static: bool) -> list[Term]:
    """One pooled tensor through each branch's batch norm, all in one call, scaled."""
    norms: list[_BatchNorm] = [b.op[1] for b in group]  # type: ignore[index]
    width = y.shape[1]
    scale = torch.cat([b.weight.reshape(1).expand(width) for b in group])
    out = fused_batch_norm(torch.cat([y] * len(group), 1), norms, scale,
                           keeps(group, static))
    return [(b.target, part, None) for b, part in
            zip(group, out.chunk(len(group), 1), strict=True)]
