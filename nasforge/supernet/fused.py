"""Fused evaluation of all the edges that leave one node of a cell.

Every edge out of a node reads the same tensor, so in weighted mode (every op runs) much of
their work is shared or can be batched:

- ``ReLU(x)`` is computed once for all the ReLU-conv-BN ops of the node;
- the convolutions of one kernel size are one convolution with ``k * C`` output channels
  (their weights concatenated on the fly, so each edge keeps its own parameters for export,
  masking and discretizing);
- their batch norms are one batch norm over the ``k * C`` channels (batch norm is per
  channel, so this is exact), and the architecture weight of each op becomes that batch
  norm's per-channel scale (``w * BN(y)`` = BN with ``gamma = w``, ``beta = 0``), so the
  multiply costs no extra pass;
- parameter-free ops (identity, pooling) run once and are scaled per edge.

Only the ops each edge must run (``EdgeWeights.active``) take part, so masked, discretized
and single-path modes go through the same code. Running statistics are written back to each
op's own batch norm with the semantics of ``nn.BatchNorm`` (momentum, or the cumulative
average when momentum is None, as in batch-norm recalibration).

``static`` (the supernet's static form, for compiled steps): every op runs, and an op whose
weight is zero keeps its batch-norm statistics and count as they were (``torch.where`` on the
device, no branch on the host), as if it had not run.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.nn.modules.batchnorm import _BatchNorm

from nasforge.nn.slim import running_stats_factor
from nasforge.spaces.ops import ReLUConvBN


@dataclass(frozen=True)
class Branch:
    """One op to run on the node's tensor: its module, its weight, and the node it feeds."""

    op: nn.Module
    weight: torch.Tensor  # 0-dim
    target: int


Term = tuple[int, torch.Tensor, torch.Tensor | None]  # (target, y, weight or None if applied)


def run_branches(x: torch.Tensor, branches: Sequence[Branch], static: bool = False
                 ) -> list[Term]:
    """The terms ``w * op(x)`` of every branch, the shared work done once. Convolution terms
    come first, already scaled (by their batch norm); the other terms carry their weight,
    so :func:`accumulate` can fuse the multiply into the sum."""
    convs: dict[tuple[object, ...], list[Branch]] = {}
    free: dict[str, list[Branch]] = {}
    out: list[Term] = []
    rest: list[Term] = []
    for b in branches:
        kind = _kind(b.op)
        if kind == _CONV:
            convs.setdefault(_conv_key(b.op), []).append(b)  # type: ignore[arg-type]
        elif kind != _OTHER:
            free.setdefault(kind, []).append(b)
        else:
            y = gated_call(b.op, x, b.weight) if static else b.op(x)
            rest.append((b.target, y, b.weight))
    if convs:
        relu = torch.relu(x)
        for group in convs.values():
            out.extend(_fused_conv_bn(relu, group, static))
    for group in free.values():
        y = group[0].op(x)
        out.extend((b.target, y, b.weight) for b in group)
    return out + rest


def accumulate(sums: list[torch.Tensor | None], owned: set[int], terms: Sequence[Term]
               ) -> None:
    """``sums[target] += w * y`` for every term. A sum this function allocated (``owned``)
    is updated in place, ``w * y`` fused into it (``addcmul``): nothing reads a node before
    all its terms are in, so autograd never sees the in-place update of a saved tensor."""
    for to, y, w in terms:
        total = sums[to]
        if total is None:
            if w is None:  # a view of a batch norm's output: not ours to update in place
                sums[to] = y
                continue
            sums[to] = y * w
        elif to in owned:
            if w is None:
                total.add_(y)
            else:
                total.addcmul_(y, w)
        else:
            sums[to] = total + y if w is None else torch.addcmul(total, y, w)
        owned.add(to)


_CONV, _OTHER = "conv", "other"
_KINDS: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()


def _kind(op: nn.Module) -> str:
    """How ``op`` is evaluated, worked out once per op: ``_CONV`` (a ReLU-conv-BN that can
    be batched), ``_OTHER`` (run on its own), or, for a parameter-free op, a key (type and
    settings) shared by the ops that compute the same function."""
    if torch.compiler.is_compiling():  # traced once: no cache for the graph to guard on
        return _find_kind(op)
    kind = _KINDS.get(op)
    if kind is None:
        kind = _KINDS[op] = _find_kind(op)
    return kind


def _find_kind(op: nn.Module) -> str:
    if isinstance(op, ReLUConvBN) and _fusable(op):
        return _CONV
    if next(op.parameters(), None) is None and next(op.buffers(), None) is None:
        return f"free:{type(op).__qualname__}:{op!r}"
    return _OTHER


def _fusable(op: ReLUConvBN) -> bool:
    conv, bn = op[1], op[2]
    return conv.bias is None and conv.groups == 1 and isinstance(bn, _BatchNorm) \
        and bn.weight is None


def _conv_key(op: ReLUConvBN) -> tuple[object, ...]:
    """Convolutions with equal keys can be one convolution: same type, geometry and input;
    their batch norms must agree on the running-statistics update (momentum or cumulative
    factor) and on train/eval, so one ``F.batch_norm`` call updates all of them alike."""
    conv, bn = op[1], op[2]
    assert isinstance(bn, _BatchNorm)
    return (type(conv), conv.kernel_size, conv.stride, conv.padding, conv.dilation,
            conv.in_channels, batch_norm_key(bn))


def batch_norm_key(bn: _BatchNorm) -> tuple[object, ...]:
    """Batch norms with equal keys can be one ``F.batch_norm`` call (see ``_conv_key``)."""
    return (bn.eps, bn.training, bn.running_mean is None, _next_factor(bn))


def _next_factor(bn: _BatchNorm) -> float:
    """The running-statistics factor of ``bn``'s next update in train mode. Only the
    cumulative average (momentum None: batch-norm recalibration) reads the batch count,
    which waits for the device; a training step with momentum never does."""
    if bn.momentum is not None:
        return bn.momentum
    if bn.num_batches_tracked is None:
        return 0.0
    return running_stats_factor(None, int(bn.num_batches_tracked) + 1)


def gated_call(op: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``op(x)``, its buffers (batch-norm statistics) kept as they were where ``weight`` is
    zero. The op runs on copies of its buffers (autograd may keep them for the backward
    pass, so they must not change after it); the originals then take the copies' values
    where ``weight`` is not zero."""
    owners = [(m, name, b) for m in op.modules() if op.training
              for name, b in m.named_buffers(recurse=False) if b is not None]
    for m, name, b in owners:
        setattr(m, name, b.clone())
    y = op(x)
    with torch.no_grad():
        keep = weight != 0
        for m, name, b in owners:
            b.copy_(torch.where(keep, getattr(m, name), b))
            setattr(m, name, b)
    return y  # type: ignore[no-any-return]


def keeps(group: Sequence[Branch], static: bool) -> list[torch.Tensor] | None:
    """Per branch, whether its batch norms update (static form: where its weight is not
    zero); None: all of them do."""
    return [b.weight != 0 for b in group] if static else None


def _fused_conv_bn(relu: torch.Tensor, group: Sequence[Branch], static: bool = False
                   ) -> list[Term]:
    convs = [b.op[1] for b in group]  # type: ignore[index]  # ReLUConvBN: relu, conv, bn
    norms: list[_BatchNorm] = [b.op[2] for b in group]  # type: ignore[index]
    weight = convs[0].weight if len(convs) == 1 else torch.cat([c.weight for c in convs])
    y = convs[0]._conv_forward(relu, weight, None)
    widths = [c.out_channels for c in convs]
    scale = torch.cat([b.weight.reshape(1).expand(w) for b, w in zip(group, widths, strict=True)])
    y = fused_batch_norm(y, norms, scale, keeps(group, static))
    return [(b.target, part, None) for b, part in zip(group, y.split(widths, 1), strict=True)]


def fused_batch_norm(y: torch.Tensor, norms: Sequence[_BatchNorm], scale: torch.Tensor | None,
                     keep: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """One ``F.batch_norm`` over the concatenated channels of ``norms`` (which share their
    settings, see ``batch_norm_key``), scaled per channel by ``scale`` (None: not scaled, as
    batch norms without affine parameters); running statistics are
    updated and written back to each batch norm as its own forward would (only where
    ``keep``, one 0-dim bool per norm, is true, when given)."""
    first = norms[0]
    if first.running_mean is None or first.running_var is None:
        return F.batch_norm(y, None, None, scale, None, True, 0.0, first.eps)
    update = first.training and first.track_running_stats
    factor = _next_factor(first) if update else 0.0
    mean = torch.cat([n.running_mean for n in norms])  # type: ignore[misc]
    var = torch.cat([n.running_var for n in norms])  # type: ignore[misc]
    out = F.batch_norm(y, mean, var, scale, None, first.training, factor, first.eps)
    if update:
        with torch.no_grad():
            sizes = [n.num_features for n in norms]
            gates = [None] * len(norms) if keep is None else list(keep)
            for n, m, v, k in zip(norms, mean.split(sizes), var.split(sizes), gates,
                                  strict=True):
                _write_back(n, m, v, k)
    return out


def _write_back(bn: _BatchNorm, mean: torch.Tensor, var: torch.Tensor,
                keep: torch.Tensor | None) -> None:
    assert bn.running_mean is not None and bn.running_var is not None
    if keep is None:
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        if bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
        return
    bn.running_mean.copy_(torch.where(keep, mean, bn.running_mean))
    bn.running_var.copy_(torch.where(keep, var, bn.running_var))
    if bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(keep.to(bn.num_batches_tracked.dtype))
