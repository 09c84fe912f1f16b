"""Posterior-guided sampling of architecture-weight pairs: the search step of PGNAS."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluators.supernet import Batch, accuracy, recalibrate_bn
from nasforge.progress import Progress
from nasforge.registry import SELECTIONS
from nasforge.selection.base import Selection, SelectionContext
from nasforge.supernet.gates import GateBank
from nasforge.training import split_batches

if TYPE_CHECKING:
    from nasforge.report.figure import Plot

Masks = dict[tuple[int, int], torch.Tensor]
CURVE_POINTS = (1, 10, 50, 100, 200, 500, 1000, 1500, 10000)


@SELECTIONS.register("posterior")
class PosteriorSampling(Selection):
    """PGNAS (Zhou et al., AAAI 2020, Sec. 3.3 and Algorithm 1): draw ``candidates`` masks
    from the learned drop probabilities (each unit kept iff u >= p, one mask per candidate
    for all images), evaluate each candidate with its inherited weights on the valid split as
    it is, keep the best. ``sampling="fixed"`` draws the masks at the constant rate
    ``fixed_rate`` instead (the random-sampling baseline of Bender et al., 2018, in the same
    code path), and ``sampling="mean_rate"`` at the constant rate equal to the mean of the
    learned drop probabilities (the paper's comparison of guided with random sampling on the
    same supernet at the same mean rate, Sec. 4.1); ``finetune_steps`` > 0 fine-tunes each
    candidate that many SGD steps before scoring it (then restores the supernet), the
    baseline "with fine-tuning";
    ``recalibration_batches`` > 0 recomputes batch-norm statistics per candidate (an option;
    the paper evaluates as is).

    Every candidate's score goes to ``selection_scores.csv``; ``candidates.csv`` has the
    error vs the number of candidates (the paper's Table 6: the test accuracy of the best of
    the first C candidates) and ``dropped.csv`` the proportion of dropped units per layer
    and group (Table 7). Progress is checkpointed every ``checkpoint_every`` candidates.
    """

    def __init__(self, candidates: int = 100,
                 sampling: Literal["guided", "fixed", "mean_rate"] = "guided",
                 fixed_rate: float = 0.5, recalibration_batches: int = 0,
                 finetune_steps: int = 0, finetune_lr: float = 0.01,
                 valid_batches: int | None = None, checkpoint_every: int = 25) -> None:
        if candidates < 1:
            raise ConfigError(f"selection.candidates must be >= 1, got {candidates}")
        if sampling not in ("guided", "fixed", "mean_rate") or not 0 <= fixed_rate < 1:
            raise ConfigError("selection.sampling must be 'guided', 'fixed' or 'mean_rate' and "
                              "fixed_rate in [0, 1)")
        if min(recalibration_batches, finetune_steps) < 0 or checkpoint_every < 1:
            raise ConfigError("recalibration_batches, finetune_steps >= 0; checkpoint_every "
                              ">= 1")
        self.candidates, self.sampling, self.fixed_rate = candidates, sampling, fixed_rate
        self.recalibration_batches, self.finetune_steps = recalibration_batches, finetune_steps
        self.finetune_lr, self.valid_batches = finetune_lr, valid_batches
        self.checkpoint_every = checkpoint_every
        self.rows: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []

    def select(self, ctx: SelectionContext) -> Architecture:
        bank = _bank(ctx)
        state = ctx.state or {"done": 0, "rows": [], "best": None, "dropped_sum": None,
                              "generator": None}
        generator = torch.Generator().manual_seed(int(ctx.rng.integers(2**31)))
        if state["generator"] is not None:
            generator.set_state(state["generator"])
        data = _Data(ctx, self.valid_batches, self.recalibration_batches)
        self.rows = list(state["rows"])
        ctx.scores[:] = list(self.rows)
        rate = self.sampling_rate(bank)
        with Progress("posterior candidates", self.candidates, initial=state["done"],
                      unit="candidate", progress=ctx.progress) as bar:
            for index in range(state["done"], self.candidates):
                masks = bank.sample_masks(generator, rate)
                row = self._score(ctx, data, index, masks, state)
                self.rows.append(row)
                ctx.scores.append(row)
                state["dropped_sum"] = _add_dropped(state["dropped_sum"], masks)
                state.update(done=index + 1, rows=self.rows, generator=generator.get_state())
                if (index + 1) % self.checkpoint_every == 0 or index + 1 == self.candidates:
                    ctx.save(dict(state))
                bar.advance(1, f"best valid_acc {state['best']['valid_acc']:.2f}")
        best_masks, arch = state["best"]["masks"], Architecture(state["best"]["arch"])
        bank.set_masks(best_masks)  # the supernet is left as the winner (for export)
        if self.recalibration_batches:
            recalibrate_bn(ctx.supernet, data.calibration())
        self.dropped = _dropped_table(bank, state["dropped_sum"], self.candidates, best_masks)
        return arch

    def sampling_rate(self, bank: GateBank) -> float | None:
        """The constant drop rate of the masks, or None for the learned per-unit rates."""
        if self.sampling == "fixed":
            return self.fixed_rate
        if self.sampling == "mean_rate":
            return bank.mean_drop_rate()
        return None

    def _score(self, ctx: SelectionContext, data: _Data, index: int, masks: Masks,
               state: dict[str, Any]) -> dict[str, Any]:
        net = ctx.supernet
        arch, evaluated = net.candidate(masks)  # type: ignore[operator]
        _bank(ctx).set_masks(evaluated)
        saved = self._finetune(ctx, data) if self.finetune_steps else None
        if self.recalibration_batches:
            recalibrate_bn(net, data.calibration())
        valid = accuracy(net, data.valid())
        row: dict[str, Any] = {"step": "candidate", "candidate": index,
                               "arch": ctx.space.format(arch) if ctx.space else arch.key(),
                               "valid_acc": valid,
                               "kept_units": int(sum(float(m.sum()) for m in evaluated.values()))}
        if state["best"] is None or valid > state["best"]["valid_acc"]:
            row["test_acc"] = accuracy(net, data.test())
            state["best"] = {"valid_acc": valid, "masks": evaluated, "arch": arch.to_dict()}
        if saved is not None:
            net.load_state_dict(saved)
        return row

    def _finetune(self, ctx: SelectionContext, data: _Data) -> dict[str, torch.Tensor]:
        """A few SGD steps on the candidate (hard masks); returns the weights to restore."""
        net = ctx.supernet
        saved = copy.deepcopy(net.state_dict())
        params = [p for p in net.parameters() if p is not _bank(ctx).logit_p]
        optimizer = torch.optim.SGD(params, lr=self.finetune_lr, momentum=0.9)
        net.train()
        for step, (x, y) in enumerate(data.train()):
            if step >= self.finetune_steps:
                break
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        return saved

    def check(self, space: Any, task: Any, strategy: Any = None) -> None:
        if not strategy.gated:
            raise ConfigError("selection 'posterior' needs a gated supernet (strategy: pgnas)")

    def report_plots(self, run_dir: Path) -> list[Plot]:
        from nasforge.report.figure import Plot
        from nasforge.report.pgnas import plot_candidates

        curve = candidate_curve(self.rows)
        _write_csv(run_dir / "candidates.csv", curve)
        _write_csv(run_dir / "dropped.csv", self.dropped)
        if plot_candidates(curve, run_dir / "plots" / "candidates.png"):
            return [Plot("plots/candidates.png", "Error vs number of candidates")]
        return []


def candidate_curve(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For C in 1, 10, 50, ...: the best of the first C candidates (by valid accuracy), its
    valid and test error (%)."""
    curve, best = [], None
    points = {c for c in CURVE_POINTS if c <= len(rows)} | {len(rows)}
    for count, row in enumerate(rows, start=1):
        if best is None or row["valid_acc"] > best["valid_acc"]:
            best = row
        if count in points:
            curve.append({"candidates": count, "valid_error": 100.0 - best["valid_acc"],
                          "test_error": 100.0 - best.get("test_acc", np.nan),
                          "arch": best["arch"]})
    return curve


class _Data:
    """The batches a selection uses, loaded once and kept on the device."""

    def __init__(self, ctx: SelectionContext, valid_batches: int | None,
                 calibration_batches: int) -> None:
        self.ctx, self.valid_batches, self.calibration_batches = ctx, valid_batches, \
            calibration_batches
        self._cache: dict[str, list[Batch]] = {}

    def _take(self, name: str, split: str, limit: int | None, shuffle: bool = False
              ) -> list[Batch]:
        if name not in self._cache:
            self._cache[name] = list(split_batches(
                self.ctx.task, split, self.ctx.runtime, shuffle=shuffle,  # type: ignore[arg-type]
                seed=7_919, max_batches=limit))
        return self._cache[name]

    def valid(self) -> list[Batch]:  # shuffled: a capped split is a random subset of it
        return self._take("valid", "valid", self.valid_batches, shuffle=True)

    def test(self) -> list[Batch]:
        return self._take("test", "test", None)

    def calibration(self) -> list[Batch]:
        return self._take("calibration", "train", self.calibration_batches, shuffle=True)

    def train(self) -> list[Batch]:
        return self._take("train", "train", 200, shuffle=True)


def _bank(ctx: SelectionContext) -> GateBank:
    bank = getattr(ctx.supernet, "bank", None)
    if not isinstance(bank, GateBank) or not hasattr(ctx.supernet, "candidate"):
        raise ConfigError("selection 'posterior' needs a gated supernet (strategy: pgnas)")
    return bank


def _add_dropped(total: dict[tuple[int, int], float] | None, masks: Masks
                 ) -> dict[tuple[int, int], float]:
    total = dict(total or {})
    for key, mask in masks.items():
        total[key] = total.get(key, 0.0) + float(1.0 - mask.mean())
    return total


def _dropped_table(bank: GateBank, total: dict[tuple[int, int], float] | None, n: int,
                   best: Masks) -> list[dict[str, Any]]:
    probs = bank.drop_probs().detach().cpu()
    rows = []
    for (layer, group), mask in sorted(best.items()):
        rows.append({"layer": bank.layers[layer], "group": bank.groups[group],
                     "drop_p": round(float(probs[layer, group]), 4),
                     "dropped_mean_over_candidates": round((total or {}).get(
                         (layer, group), 0.0) / max(n, 1), 4),
                     "dropped_in_best": round(float(1.0 - mask.mean()), 4)})
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
