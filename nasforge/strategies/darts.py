"""DARTS: differentiable architecture search (Liu, Simonyan & Yang, ICLR 2019)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from nasforge.batches import Batch
from nasforge.errors import ConfigError
from nasforge.registry import STRATEGIES
from nasforge.runtime import Runtime
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.oneshot import OneShotStrategy
from nasforge.supernet.base import Supernet
from nasforge.task import Split, Task
from nasforge.trainer import Phase, StepOutput, Update
from nasforge.training import seeded


@STRATEGIES.register("darts")
class DartsSearch(OneShotStrategy):
    """DARTS bilevel search (Liu et al., ICLR 2019, Algorithm 1 and Eq. 5-8).

    Every mixed op computes ``sum_o softmax(alpha_e)_o * o(x)`` (Eq. 2). Each step first
    updates alpha on one batch of the valid split, then the weights on one batch of the train
    split. ``order=1``: the alpha gradient at the current weights (Eq. 6 with xi = 0);
    ``order=2``: through one virtual SGD step of the weights (Eq. 7), the Hessian-vector product
    by finite differences with r = 0.01 / ||v|| (Eq. 8). ``fixed_alpha``: alpha stays zero
    (uniform weights) and is never updated, the supernet of "PT with fixed alpha"
    (Wang et al., ICLR 2021).

    Defaults are the official code's CIFAR-10 settings: weights SGD lr 0.025 cosine to 0.001,
    momentum 0.9, wd 3e-4, grad clip 5; alpha Adam lr 3e-4, betas (0.5, 0.999), wd 1e-3,
    initialised 1e-3 * N(0, 1); 50 epochs.
    Note: the virtual step of ``order=2`` uses plain SGD with weight decay (the official code
    also adds the momentum buffer); ``max_batches`` caps the steps per epoch for small runs;
    the alpha step reuses the train batch of the same step for order 2.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, epochs: int = 50,
                 order: Literal[1, 2] = 1, fixed_alpha: bool = False, lr: float = 0.025,
                 lr_min: float = 0.001, momentum: float = 0.9, weight_decay: float = 3e-4,
                 grad_clip: float = 5.0, alpha_lr: float = 3e-4, alpha_weight_decay: float = 1e-3,
                 alpha_init: float = 1e-3, finetune_lr: float = 0.0025,
                 max_batches: int | None = None) -> None:
        super().__init__(space, seed)
        if epochs < 0 or order not in (1, 2):
            raise ConfigError(f"darts needs epochs >= 0 and order 1 or 2, got {epochs}, {order}")
        self.epochs, self.order, self.fixed_alpha = epochs, order, fixed_alpha
        self.lr, self.lr_min, self.momentum = lr, lr_min, momentum
        self.weight_decay, self.grad_clip = weight_decay, grad_clip
        self.alpha_lr, self.alpha_weight_decay, self.alpha_init = alpha_lr, alpha_weight_decay, \
            alpha_init
        self.finetune_lr, self.max_batches = finetune_lr, max_batches
        self.alpha = nn.Parameter(torch.zeros(0))
        # every step: alpha on a valid batch, then the weights on a train batch
        self.uses_valid = not fixed_alpha

    def setup(self, supernet: Supernet, task: Task, runtime: Runtime | torch.device) -> None:
        super().setup(supernet, task, runtime)
        init = torch.zeros(supernet.alpha_shape)
        if not self.fixed_alpha:
            with seeded(self.seed):
                init = self.alpha_init * torch.randn(supernet.alpha_shape)
        self.alpha = nn.Parameter(init.to(self.runtime.device, self.runtime.dtype))
        fast = self.runtime.optimizer_options()
        self.w_optimizer = torch.optim.SGD(supernet.parameters(), lr=self.lr,
                                           momentum=self.momentum, weight_decay=self.weight_decay,
                                           **fast)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_optimizer, max(self.epochs, 1), eta_min=self.lr_min)
        self.a_optimizer = torch.optim.Adam([self.alpha], lr=self.alpha_lr, betas=(0.5, 0.999),
                                            weight_decay=self.alpha_weight_decay, **fast)
        self.ft_optimizer: torch.optim.Optimizer | None = None
        self._apply_alpha()

    def op_strengths(self) -> torch.Tensor:
        """softmax(alpha) over each edge's own ops (zero where an edge has fewer ops)."""
        assert self.supernet is not None
        valid = self.supernet.arch_state.valid
        return torch.softmax(self.alpha.masked_fill(valid == 0, -math.inf), dim=-1)

    def strengths_caption(self) -> str | None:
        if self.fixed_alpha:  # alpha stays uniform: a heatmap would show nothing learned
            return None
        return "Architecture weights softmax(alpha) per edge and op, and over training"

    def _apply_alpha(self) -> None:
        assert self.supernet is not None
        self.supernet.set_weights(self.op_strengths())

    def batch_seed(self, split: Split, epoch: int) -> int:
        """Train and valid batches in their own orders (the valid stream restarts, with
        ``epoch * 1000 + round``, when it runs out)."""
        return self.seed * 100_003 + epoch * 2 + (split == "valid")

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(self.forward(x), y)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        metrics = super().train_epoch(epoch)
        self.scheduler.step()
        return metrics

    def training_step(self, batch: Batch, valid: Batch | None) -> StepOutput:
        """Eq. 5-8: one alpha step on the valid batch, then the weight loss on the train
        batch at the updated alpha."""
        x, y = batch
        if not self.fixed_alpha:
            assert valid is not None
            self._alpha_step(x, y, *valid)
        self._apply_alpha()
        logits = self.forward(x)
        return StepOutput(nn.functional.cross_entropy(logits, y), logits, y)

    def update(self, phase: Phase) -> Update:
        """The weights (SGD; a fresh one at ``finetune_lr`` between PT decisions), clipped."""
        assert self.supernet is not None
        optimizer: torch.optim.Optimizer = self.w_optimizer
        if phase == "finetune":
            if self.ft_optimizer is None:
                self.ft_optimizer = self._finetune_optimizer()
            optimizer = self.ft_optimizer
        params = list(self.supernet.parameters())
        return Update([optimizer], params, grad_clip=self.grad_clip)

    def _alpha_step(self, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                    yv: torch.Tensor) -> None:
        self.a_optimizer.zero_grad(set_to_none=True)
        if self.order == 1:
            self._apply_alpha()
            self._loss(xv, yv).backward()
        else:
            self._unrolled_alpha_grad(x, y, xv, yv)
        self.dist.average_gradients([self.alpha])
        self.a_optimizer.step()

    def _unrolled_alpha_grad(self, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                             yv: torch.Tensor) -> None:
        """Eq. 7-8: grad_alpha L_val(w') - xi * (grad_alpha L_train(w+) - grad_alpha
        L_train(w-)) / (2 r), with w' = w - xi grad_w L_train(w) and w+- = w +- r v."""
        assert self.supernet is not None
        params = [p for p in self.supernet.parameters() if p.requires_grad]
        xi = self.w_optimizer.param_groups[0]["lr"]
        original = [p.detach().clone() for p in params]
        self._apply_alpha()
        grads = torch.autograd.grad(self._loss(x, y), params, allow_unused=True)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                if g is not None:
                    p.sub_(xi * (g + self.weight_decay * p))
        self._apply_alpha()
        val_loss = self._loss(xv, yv)
        *v, d_alpha = torch.autograd.grad(val_loss, [*params, self.alpha], allow_unused=True)
        hessian = self._hessian_vector(params, original, v, x, y)
        with torch.no_grad():
            for p, o in zip(params, original, strict=True):
                p.copy_(o)
        self.alpha.grad = (torch.zeros_like(hessian) if d_alpha is None else d_alpha) - xi * hessian

    def _hessian_vector(self, params: list[nn.Parameter], original: list[torch.Tensor],
                        v: Sequence[torch.Tensor | None], x: torch.Tensor, y: torch.Tensor
                        ) -> torch.Tensor:
        vs = [torch.zeros_like(p) if g is None else g for p, g in zip(params, v, strict=True)]
        r = 0.01 / torch.cat([g.flatten() for g in vs]).norm().clamp_min(1e-12)
        grads = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, o, g in zip(params, original, vs, strict=True):
                    p.copy_(o + sign * r * g)
            self._apply_alpha()
            (grad,) = torch.autograd.grad(self._loss(x, y), self.alpha, allow_unused=True)
            # alpha is unused once every edge is discretized (late in DARTS-PT)
            grads.append(torch.zeros_like(self.alpha) if grad is None else grad)
        return (grads[0] - grads[1]) / (2 * r)

    def state_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha.detach().cpu(),
            "w_optimizer": self.w_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "a_optimizer": self.a_optimizer.state_dict(),
            "ft_optimizer": None if self.ft_optimizer is None else self.ft_optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        alpha = state["alpha"]
        if tuple(alpha.shape) != tuple(self.alpha.shape):
            raise ConfigError(f"checkpoint alpha has shape {tuple(alpha.shape)}, this supernet "
                              f"needs {tuple(self.alpha.shape)}")
        with torch.no_grad():
            self.alpha.copy_(alpha.to(self.alpha))
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.a_optimizer.load_state_dict(state["a_optimizer"])
        if state["ft_optimizer"] is not None:
            self.ft_optimizer = self._finetune_optimizer()
            self.ft_optimizer.load_state_dict(state["ft_optimizer"])
        self.generator.set_state(state["generator"])
        self._apply_alpha()  # the supernet runs on the restored alpha from here on

    def _finetune_optimizer(self) -> torch.optim.Optimizer:
        assert self.supernet is not None
        return torch.optim.SGD(self.supernet.parameters(), lr=self.finetune_lr,
                               momentum=self.momentum, weight_decay=self.weight_decay,
                               **self.runtime.optimizer_options())
