"""Where each number of a run comes from, in words a reader can check.

A run mixes numbers of different origins: the search signal measured on the search task (the
proxy), NAS-Bench-201 table look-ups (CIFAR-10 numbers of a network the run never trained),
stand-alone retraining, simulated clocks. A number shown without its origin misleads, so the
report and the command line label each one with :func:`metric_source`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasforge.evaluators.base import OBJECTIVE

SIGNAL = "search signal"
# Metrics that may be copied into OBJECTIVE by an evaluator whose signal is not an accuracy
# (the lm evaluator's reward c / valid_ppl^2): shown under their own name, not as valid_acc.
SIGNAL_ALIASES = ("reward",)


def signal_name(metrics: Mapping[str, Any]) -> str:
    """The name the search signal should be shown under: ``reward`` when the evaluator copied
    its reward into ``valid_acc``, else ``valid_acc``."""
    value = metrics.get(OBJECTIVE)
    for alias in SIGNAL_ALIASES:
        if alias in metrics and value is not None and metrics[alias] == value:
            return alias
    return OBJECTIVE


def shown_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics to show: a ``valid_acc`` that only repeats an alias is left out."""
    if signal_name(metrics) == OBJECTIVE:
        return dict(metrics)
    return {k: v for k, v in metrics.items() if k != OBJECTIVE}


def metric_source(name: str, evaluator: Mapping[str, Any], *, one_shot: bool = False) -> str:
    """Where the metric ``name`` of a trial comes from, given the run's evaluator description
    (``Evaluator.describe()``, as the run spine stores it). In a one-shot run the trial is the
    selected architecture's evaluation after the search, so none of its numbers is the search
    signal; in an ask/tell run ``valid_acc`` (or its alias) is."""
    kind = str(evaluator.get("evaluator", ""))
    text = _describe(name, kind, evaluator)
    if name not in (OBJECTIVE, *SIGNAL_ALIASES):
        return text
    if not one_shot:
        return f"{text} ({SIGNAL})" if text else SIGNAL
    return f"{text}: the selected architecture, evaluated after the search (not the {SIGNAL})"


def _describe(name: str, kind: str, evaluator: Mapping[str, Any]) -> str:
    if name == "sim_time":
        return "simulated cluster clock when the trial ended (s)"
    if kind == "table":
        return _table(name, evaluator)
    split = "valid" if name.startswith("valid") or name in SIGNAL_ALIASES else "test"
    where = {
        "train": f"stand-alone training from scratch on the search task, {split} split",
        "supernet": f"inherited supernet weights after batch-norm recalibration, search "
                    f"task's {split} split",
        "supernet_path": f"the selected path inside the trained supernet, search task's "
                         f"{split} split",
        "lm": f"its language model trained from scratch, {split} text",
    }.get(kind, "")
    if kind == "lm" and name == "reward":
        return f"c / valid_ppl^2 of {where}" if where else ""
    if kind == "lm" and name.endswith("_ppl"):
        return f"perplexity of {where}"
    return where if name.endswith("_acc") or name in (OBJECTIVE,) else ""


def _table(name: str, evaluator: Mapping[str, Any]) -> str:
    dataset = evaluator.get("dataset", "cifar10")
    fidelity = evaluator.get("fidelity", "?")
    what = {
        OBJECTIVE: f"{dataset} validation accuracy after {fidelity} epochs",
        "test_acc": f"{dataset} test accuracy after 200 epochs",
        "test_acc_12ep": f"{dataset} test accuracy after 12 epochs",
        "latency_ms": "measured latency",
    }.get(name)
    return f"NB201 table look-up: {what}" if what else "NB201 table look-up"


def size_source(evaluator: Mapping[str, Any], *, one_shot: bool = False) -> str:
    """Where params and FLOPs come from: the NB201 table (its CIFAR network) in an ask/tell
    search on the table, else the network built on the search task's input shape (one-shot
    runs count the network they train, whatever evaluates the selection)."""
    if evaluator.get("evaluator") == "table" and not one_shot:
        return f"NB201 table look-up ({evaluator.get('dataset', 'cifar10')} network)"
    return "the network on the search task's input shape (multiply-adds)"


ONE_SHOT_PREFIX = {"table": "NB201 table look-up of the selection",
                   "train": "the selection trained from scratch",
                   "supernet_path": "the selected path in the supernet"}


def metrics_text(metrics: Mapping[str, Any], evaluator: Mapping[str, Any], *,
                 one_shot: bool = False) -> str:
    """One line of a trial's metrics for the terminal, the search signal named by what it is
    (``reward 14.6 (search signal)``, not ``valid_acc 14.6``) and a one-shot selection's
    numbers prefixed with their origin."""
    signal = signal_name(metrics)
    parts = []
    for name, value in sorted(shown_metrics(metrics).items()):
        text = f"{name} {value:.2f}" if isinstance(value, (int, float)) else f"{name} {value}"
        parts.append(f"{text} ({SIGNAL})" if name == signal and not one_shot else text)
    line = "  ".join(parts)
    prefix = ONE_SHOT_PREFIX.get(str(evaluator.get("evaluator", ""))) if one_shot else None
    return f"{prefix}: {line}" if prefix else line


def outcome_text(n_trials: int, n_failed: int, spent: float, evaluator: Mapping[str, Any], *,
                 one_shot_epochs: int | None = None, wall_time: float | None = None,
                 sim_clock: float | None = None, supernet_from: str | None = None) -> str:
    """The first line the command line prints after a search: what was done and what it
    cost, each number labelled (a one-shot run is not '1 trials, cost 2,200 s')."""
    wall = "" if wall_time is None else (
        f"; wall time {wall_time:.0f}s" if wall_time >= 10 else f"; wall time {wall_time:.2g}s")
    if one_shot_epochs is not None:
        source = f" (by {supernet_from}, adopted)" if supernet_from else ""
        return (f"one-shot: supernet trained {one_shot_epochs} epochs{source}, 1 architecture "
                f"selected and evaluated{wall}")
    simulated = " (simulated)" if evaluator.get("evaluator") == "table" else ""
    clock = f"; simulated cluster clock {sim_clock:.0f}s" if sim_clock is not None else ""
    return (f"{n_trials} trials ({n_failed} failed), evaluation cost {spent:.0f}s{simulated}"
            f"{clock}{wall}")
