"""Variational-dropout gates of Posterior-Guided NAS (Zhou et al., AAAI 2020, Sec. 3).

A gate multiplies its input units (the input channels of a convolution, or a whole op) by a
binary mask eps ~ Bernoulli(1 - p): phi = m * eps is the hybrid (architecture, weight)
representation of the paper, and p is the DROP probability of a (layer, group) of the
``GateBank`` (one learned p per layer and kernel-size group, or per edge and op).

Modes of the bank (one for all its gates):
- ``relaxed`` (training): per sample and unit, the concrete relaxation
  z = sigmoid((logit(p) + log u - log(1 - u)) / tau), u ~ U(0, 1); output x * (1 - z);
- ``hard`` (candidates): a fixed 0/1 mask per gate, the same for every image (``set_masks``);
- ``fixed`` (the random-dropout baseline of Bender et al.): per-sample hard Bernoulli masks
  at the constant rate ``fixed_rate``;
- ``off``: every unit kept.

Note: like the authors' code the output is x * (1 - z) without the 1 / (1 - p) rescaling of
inverted dropout, so a hard mask at sampling time sees the scale the weights were trained at.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

Mode = Literal["relaxed", "hard", "fixed", "off"]


class GateBank(nn.Module):
    """The drop probabilities p (as logits, shape (layers, groups)) and every gate using them."""

    def __init__(self, layers: list[str], groups: list[str], init_p: float = 0.1,
                 tau: float = 0.2) -> None:
        super().__init__()
        if not 0.0 < init_p < 1.0:
            raise ValueError(f"initial drop probability must be in (0, 1), got {init_p}")
        if tau <= 0:
            raise ValueError(f"temperature tau must be > 0, got {tau}")
        self.layers, self.groups = list(layers), list(groups)
        self.logit_p = nn.Parameter(torch.full((len(layers), len(groups)),
                                               math.log(init_p / (1 - init_p))))
        self.tau, self.mode, self.fixed_rate = tau, "off", 0.5
        self.gates: list[ChannelGate] = []  # registered by the gates themselves (not modules)
        self.masks: dict[tuple[int, int], torch.Tensor] = {}  # on the host
        self._placed: dict[tuple[int, int], torch.Tensor] = {}  # copies where the gates run
        self.register_load_state_dict_post_hook(lambda module, keys: module.check())

    def check(self) -> None:
        """Drop probabilities must lie in (0, 1): a loaded checkpoint with others is refused."""
        probs = self.drop_probs().detach()
        if not bool(torch.isfinite(self.logit_p).all()) or not bool(
                ((probs > 0) & (probs < 1)).all()):
            from nasforge.errors import ConfigError

            raise ConfigError("checkpoint has drop probabilities p outside (0, 1)")

    def drop_probs(self) -> torch.Tensor:
        return torch.sigmoid(self.logit_p)

    def mean_drop_rate(self) -> float:
        """The learned drop probability averaged over all units (the expected share of units
        a guided mask drops): the rate of random masks that drop as many."""
        probs = self.drop_probs().detach().cpu()
        units = self.units()
        total = sum(units.values())
        return sum(float(probs[layer, group]) * n for (layer, group), n in units.items()) / total

    def set_mode(self, mode: Mode, fixed_rate: float | None = None) -> None:
        self.mode = mode
        if fixed_rate is not None:
            self.fixed_rate = fixed_rate

    def units(self) -> dict[tuple[int, int], int]:
        """The mask size of each (layer, group); gates with the same key share one mask."""
        return {(g.layer, g.group): g.units for g in self.gates}

    def sample_masks(self, generator: torch.Generator,
                     rate: float | None = None) -> dict[tuple[int, int], torch.Tensor]:
        """One candidate: a 0/1 mask per (layer, group), unit kept iff u >= p (u ~ U(0,1) per
        unit, the same for all images); ``rate`` replaces the learned p (the random
        baseline of Bender et al.)."""
        probs = self.drop_probs().detach().cpu()
        masks = {}
        for (layer, group), units in sorted(self.units().items()):
            p = rate if rate is not None else float(probs[layer, group])
            masks[(layer, group)] = (torch.rand(units, generator=generator) >= p).float()
        return masks

    def set_masks(self, masks: dict[tuple[int, int], torch.Tensor]) -> None:
        self.masks = masks
        self._placed = {}
        self.mode = "hard"

    def placed_mask(self, key: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """The hard mask of ``key`` on ``like``'s device and dtype, copied once per
        candidate (not once per forward), without waiting for the device."""
        mask = self._placed.get(key)
        if mask is None or mask.device != like.device or mask.dtype != like.dtype:
            mask = self.masks[key].to(like.device, like.dtype, non_blocking=True)
            self._placed[key] = mask
        return mask


class ChannelGate(nn.Module):
    """Masks ``units`` input units (channels, or 1 for a whole op) of its input. ``owner`` is
    the module the units feed: its weights (ndim > 1) are the regulariser's ||m||^2."""

    def __init__(self, bank: GateBank, layer: int, group: int, units: int, fan_in: int,
                 owner: nn.Module) -> None:
        super().__init__()
        self.layer, self.group, self.units, self.fan_in = layer, group, units, fan_in
        # Lists, so neither is registered as a child module (the owner contains this gate).
        self._bank, self._owner = [bank], [owner]
        bank.gates.append(self)

    @property
    def bank(self) -> GateBank:
        return self._bank[0]

    def dropped(self) -> bool:
        """True when a hard mask drops every unit (the gated computation can be skipped)."""
        bank = self.bank
        return bank.mode == "hard" and not bool(bank.masks[(self.layer, self.group)].any())

    def weights(self) -> list[torch.Tensor]:
        return [p for p in self._owner[0].parameters() if p.dim() > 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bank = self.bank
        if bank.mode == "off":
            return x
        shape = (x.shape[0], self.units) + (1,) * (x.dim() - 2)
        if bank.mode == "hard":
            mask = bank.placed_mask((self.layer, self.group), x)
            return x * mask.view((1, self.units) + (1,) * (x.dim() - 2))
        if bank.mode == "fixed":
            keep = (torch.rand(shape, device=x.device) >= bank.fixed_rate).to(x)
            return x * keep
        logit = bank.logit_p[self.layer, self.group]
        # the noise in the gate's own dtype (half precision cannot hold 1 - 1e-6)
        u = torch.rand(shape, device=x.device, dtype=logit.dtype).clamp(1e-6, 1 - 1e-6)
        z = torch.sigmoid((logit + torch.log(u) - torch.log1p(-u)) / bank.tau)
        return x * (1 - z)


def regulariser(bank: GateBank, n_train: int, length_scale2: float,
                p_dependent: bool = True, weight_factor: float = 0.5,
                init_p: float = 0.1) -> torch.Tensor:
    """The p-dependent part of the negative ELBO (paper Eq. 6-7, concrete dropout):
    sum over gates of  weight_factor * l^2 (1 - p) / N * ||m||^2  +  K / N * (p log p +
    (1 - p) log(1 - p)), K the gate's fan-in. ``weight_factor`` 0.5 is the paper's
    l^2 (1 - p) / (2N); the authors' code uses 1. ``p_dependent=False`` is the paper's
    ablation: the weight term with the constant (1 - init_p) instead of (1 - p)."""
    probs = bank.drop_probs()
    total = probs.new_zeros(())
    for gate in bank.gates:
        p = probs[gate.layer, gate.group]
        keep = (1 - p) if p_dependent else p.new_tensor(1 - init_p)
        squared = sum((w * w).sum() for w in gate.weights())
        total = total + weight_factor * length_scale2 * keep * squared / n_train
        entropy = p * torch.log(p) + (1 - p) * torch.log1p(-p)
        total = total + gate.fan_in * entropy / n_train
    return total
