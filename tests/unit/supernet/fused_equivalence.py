"""Checks shared by the fused-cell tests (NB201 and DARTS): a fused supernet against its
edge-by-edge twin holding the same weights."""

from __future__ import annotations

import torch
from torch import nn


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    """Same parameters, running statistics and batch counts."""
    sa, sb = a.state_dict(), b.state_dict()
    for name in sa:
        assert torch.allclose(sa[name].float(), sb[name].float(), atol=1e-5), name


def assert_weighted_mode_matches(fused: nn.Module, plain: nn.Module, x: torch.Tensor,
                                 alpha_shape: tuple[int, int]) -> None:
    """Weighted (DARTS) mode: outputs, alpha and weight gradients, running statistics and the
    eval-mode outputs all agree."""
    start = torch.randn(*alpha_shape)
    alphas = [start.clone().requires_grad_() for _ in range(2)]
    outs = []
    for net, alpha in zip((fused, plain), alphas, strict=True):
        net.set_weights(torch.softmax(alpha, -1))  # type: ignore[operator]
        y = net.train()(x)
        y.square().sum().backward()
        outs.append(y)
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert alphas[0].grad is not None and alphas[1].grad is not None
    assert torch.allclose(alphas[0].grad, alphas[1].grad, atol=1e-4)
    for (name, p), q in zip(fused.named_parameters(), plain.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad, atol=1e-4), name
    assert_same_state(fused, plain)  # running statistics and batch counts written back
    with torch.no_grad():
        assert torch.allclose(fused.eval()(x), plain.eval()(x), atol=1e-5)
