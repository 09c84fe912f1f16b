"""Posterior-guided NAS (Zhou, Yang, Wang & Pan, AAAI 2020): supernet training."""

from __future__ import annotations

from collections.abc import Callable
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
from nasforge.supernet.gates import GateBank, regulariser
from nasforge.task import Task
from nasforge.trainer import Phase, StepOutput, Update


@STRATEGIES.register("pgnas")
class PosteriorTraining(OneShotStrategy):
    """Trains a gated supernet by variational dropout (PGNAS, Sec. 3, Eq. 4-8): minimises
    the data NLL plus ``regulariser`` (nasforge.supernet.gates): the p-dependent weight term
    weight_factor * l^2 (1 - p) / N * ||m||^2 and the entropy term K / N * (p log p +
    (1 - p) log(1 - p)), with the concrete relaxation of the gates at temperature ``tau``.
    ``length_scale2`` is l^2 (the paper grid-searched 0.1 .. 2500); N the training-set size.
    ``p_dependent=False``: the paper's ablation, a constant L2 coefficient instead.
    ``dropout="fixed"``: the baseline of Bender et al. (2018): the same supernet trained with
    hard dropout at the constant rate ``fixed_rate`` and no learned p.

    Candidates are drawn afterwards by ``selection: posterior`` (posterior-guided sampling).
    Spaces: ``nb201`` (operation level, nasforge.supernet.gated_nb201) and any space with a
    gated supernet registered in ``GATED_SUPERNETS`` (``factory(space, shape, init_p, tau)``).

    Defaults from the authors' code: tau 0.2, initial drop probability 0.1. Weights: SGD
    momentum 0.9, cosine from ``lr``, weight decay only on parameters without a gate.
    Note: p is trained with its own Adam (``p_lr``), which the paper does not specify.
    """

    gated = True  # trains a GateBank supernet (what selection: posterior samples from)

    def __init__(self, space: SearchSpace, seed: int = 0, epochs: int = 50, lr: float = 0.05,
                 momentum: float = 0.9, weight_decay: float = 5e-4, p_lr: float = 0.01,
                 tau: float = 0.2, init_p: float = 0.1, length_scale2: float = 1.0,
                 weight_factor: float = 0.5, p_dependent: bool = True,
                 dropout: Literal["learned", "fixed"] = "learned", fixed_rate: float = 0.5,
                 grad_clip: float | None = 5.0, finetune_lr: float = 0.005,
                 max_batches: int | None = None) -> None:
        super().__init__(space, seed)
        if tau <= 0:
            raise ConfigError(f"strategy.tau must be > 0, got {tau}")
        if not 0 < init_p < 1 or not 0 <= fixed_rate < 1:
            raise ConfigError("strategy.init_p must be in (0, 1) and fixed_rate in [0, 1)")
        if dropout not in ("learned", "fixed") or epochs < 0 or length_scale2 < 0:
            raise ConfigError("strategy.dropout must be 'learned' or 'fixed', epochs >= 0, "
                              "length_scale2 >= 0")
        self.epochs, self.lr, self.momentum, self.weight_decay = epochs, lr, momentum, \
            weight_decay
        self.p_lr, self.tau, self.init_p, self.length_scale2 = p_lr, tau, init_p, length_scale2
        self.weight_factor, self.p_dependent = weight_factor, p_dependent
        self.dropout, self.fixed_rate, self.grad_clip = dropout, fixed_rate, grad_clip
        self.finetune_lr, self.max_batches = finetune_lr, max_batches

    def supernet_options(self) -> dict[str, Any]:
        return {"init_p": self.init_p, "tau": self.tau}

    @property
    def bank(self) -> GateBank:
        bank = getattr(self.supernet, "bank", None)
        assert isinstance(bank, GateBank), "pgnas needs a gated supernet"
        return bank

    def setup(self, supernet: Supernet, task: Task, runtime: Runtime | torch.device) -> None:
        super().setup(supernet, task, runtime)
        p = self.bank.logit_p
        gated = {id(q) for gate in self.bank.gates for q in gate.weights()}
        weights = [q for q in supernet.parameters() if q is not p]
        fast = self.runtime.optimizer_options()
        self.optimizer = torch.optim.SGD(
            [{"params": [q for q in weights if id(q) in gated], "weight_decay": 0.0},
             {"params": [q for q in weights if id(q) not in gated],
              "weight_decay": self.weight_decay}], lr=self.lr, momentum=self.momentum, **fast)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer,
                                                                    max(self.epochs, 1))
        self.p_optimizer = torch.optim.Adam([p], lr=self.p_lr, **fast)
        self.ft_optimizer: torch.optim.Optimizer | None = None
        self.n_train = len(task.train)  # type: ignore[arg-type]

    def train_epoch(self, epoch: int) -> dict[str, float]:
        metrics = self._gated_epoch(lambda: super(PosteriorTraining, self).train_epoch(epoch))
        self.scheduler.step()
        return metrics

    def finetune_epoch(self, epoch: int) -> dict[str, float]:
        return self._gated_epoch(lambda: super(PosteriorTraining, self).finetune_epoch(epoch))

    def _finetune_optimizer(self) -> torch.optim.Optimizer:
        assert self.supernet is not None
        return torch.optim.SGD(self.supernet.parameters(), lr=self.finetune_lr,
                               momentum=self.momentum, **self.runtime.optimizer_options())

    @property
    def learned(self) -> bool:
        return self.dropout == "learned"

    def _gated_epoch(self, run: Callable[[], dict[str, float]]) -> dict[str, float]:
        """An epoch with the gates dropping (relaxed, or hard at the fixed rate), then off."""
        self.bank.set_mode("relaxed" if self.learned else "fixed", self.fixed_rate)
        metrics = run()
        self.bank.set_mode("off")
        # the rate the gates dropped at: the posterior's mean, or the fixed baseline's rate
        # (its p is never trained and would report only its initial value)
        rate = float(self.bank.drop_probs().detach().mean()) if self.learned \
            else self.fixed_rate
        return {"train_nll": metrics["train_nll"], "regulariser": metrics.get("regulariser", 0.0),
                "train_acc": metrics["train_acc"], "mean_drop_p": rate}

    def training_step(self, batch: Batch, valid: Batch | None) -> StepOutput:
        """Eq. 6-8: the data NLL under relaxed gates plus the p-dependent regulariser."""
        x, y = batch
        logits = self.forward(x)
        nll = nn.functional.cross_entropy(logits, y)
        if not self.learned:
            return StepOutput(nll, logits, y, extras={"train_nll": nll})
        term = self.regulariser()
        return StepOutput(nll + term, logits, y, extras={"train_nll": nll},
                          latest={"regulariser": term})

    def update(self, phase: Phase) -> Update:
        """The weights (and, learned, the drop probabilities p: Adam), clipped together."""
        assert self.supernet is not None
        optimizer: torch.optim.Optimizer = self.optimizer
        if phase == "finetune":
            if self.ft_optimizer is None:
                self.ft_optimizer = self._finetune_optimizer()
            optimizer = self.ft_optimizer
        optimizers = [optimizer, self.p_optimizer] if self.learned else [optimizer]
        return Update(optimizers, list(self.supernet.parameters()), grad_clip=self.grad_clip)

    def regulariser(self) -> torch.Tensor:
        return regulariser(self.bank, self.n_train, self.length_scale2, self.p_dependent,
                           self.weight_factor, self.init_p)

    def op_strengths(self) -> torch.Tensor:
        """Keep probabilities 1 - p per (layer, group): the learned posterior's heatmap."""
        return 1.0 - self.bank.drop_probs().detach()

    def strengths_caption(self) -> str | None:
        return "Keep probabilities 1 - p (learned posterior) per layer and group, and over " \
            "training"

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "p_optimizer": self.p_optimizer.state_dict(),
                "ft_optimizer": None if self.ft_optimizer is None else
                self.ft_optimizer.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.p_optimizer.load_state_dict(state["p_optimizer"])
        if state["ft_optimizer"] is not None:
            self.ft_optimizer = self._finetune_optimizer()
            self.ft_optimizer.load_state_dict(state["ft_optimizer"])
        self.generator.set_state(state["generator"])
