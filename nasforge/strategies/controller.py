"""Neural architecture search with reinforcement learning (Zoph & Le, ICLR 2017)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.registry import STRATEGIES
from nasforge.spaces.base import SearchSpace
from nasforge.strategies.base import AskTellStrategy
from nasforge.strategies.controller_net import ControllerNet, Step
from nasforge.task import Task

if TYPE_CHECKING:
    from nasforge.report.figure import Plot

Reward = Literal["accuracy", "accuracy_cubed", "raw"]


@STRATEGIES.register("controller")
class RLController(AskTellStrategy):
    """The RL controller of Zoph & Le (ICLR 2017), as an ask/tell strategy.

    ``ask`` samples an architecture from the controller LSTM (Sec. 3.1; nasforge.strategies.
    controller_net); ``tell`` collects its reward, and every ``batch`` rewards (the paper's m)
    the controller takes one REINFORCE step (Sec. 3.2, Eq. 2):
    grad J = 1/m sum_k (R_k - b) grad log P(a_k), b an exponential moving average of past
    rewards (``baseline_decay``), plus ``entropy_weight`` x the policy entropy (an ENAS
    option, 0 in the paper). The reward is the evaluator's ``reward_metric`` transformed by
    ``reward``: "accuracy_cubed" = (acc / 100)^3, the paper's CIFAR reward (Sec. 4.1, with
    the max validation accuracy of the last 5 epochs: ``reward_metric: valid_acc_max5`` of
    the train evaluator); a failed or non-finite result never updates the controller.

    Spaces with learned connections (``anchor_decisions``, the ``macro`` space) use the
    anchor-point attention (Sec. 3.3), and a ``depth`` curriculum (Sec. 4.1: start at 6
    layers, +2 every 1,600 architectures: ``curriculum: {start: 6, step: 2, every: 1600}``).
    Any other space is written decision by decision, one softmax per decision.

    Asynchronous updates (Sec. 3.4): a result may arrive after the controller changed since
    its architecture was asked; its staleness (updates in between) is recorded, and results
    staler than ``max_staleness`` are dropped. The log-probability is taken under the current
    controller (as a parameter-server replica applying a stale gradient would approximate).

    Defaults are the paper's: 2-layer LSTM of 35 units, init U[-0.08, 0.08], Adam lr 6e-4.
    Note: the paper's m = 8 children per replica; ``batch`` defaults to 8.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, hidden: int = 35, layers: int = 2,
                 init: float = 0.08, lr: float = 6e-4, batch: int = 8,
                 baseline_decay: float = 0.95, entropy_weight: float = 0.0,
                 reward: Reward = "accuracy", reward_metric: str = "valid_acc",
                 temperature: float = 1.0, tanh_constant: float | None = None,
                 curriculum: dict[str, int] | None = None, max_staleness: int | None = None,
                 constraints: dict[str, Any] | None = None, task: Task | None = None,
                 max_rejections: int = 1000) -> None:
        super().__init__(space, seed, constraints, task, max_rejections)
        if batch < 1 or not 0 <= baseline_decay < 1 or reward not in ("accuracy",
                                                                       "accuracy_cubed", "raw"):
            raise ConfigError("controller needs batch >= 1, 0 <= baseline_decay < 1 and reward "
                              "'accuracy', 'accuracy_cubed' or 'raw'")
        self.layout = Layout(space, curriculum)
        self.batch, self.baseline_decay, self.entropy_weight = batch, baseline_decay, \
            entropy_weight
        self.reward, self.reward_metric, self.max_staleness = reward, reward_metric, \
            max_staleness
        torch_seed = int(np.random.default_rng(seed).integers(2**31))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            self.net = ControllerNet(self.layout.kinds(), hidden, layers, init, temperature,
                                     tanh_constant)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(torch_seed)
        self.baseline: float | None = None
        self.buffer: list[tuple[dict[str, Any], float, int]] = []  # (arch, reward, staleness)
        self.pending: dict[str, int] = {}  # arch key -> controller version when asked
        self.updates = 0
        self.n_asked = 0
        self.history: list[dict[str, float]] = []

    def ask(self) -> Architecture:
        depth = self.layout.depth(self.n_asked)
        propose = lambda: self._sample(depth)  # noqa: E731
        arch = propose() if self.constraints is None else self.draw(propose,
                                                                     self.max_rejections)
        if arch is None:
            raise self.infeasible()
        self.n_asked += 1
        self.pending[self.space.key(arch)] = self.updates
        return arch

    def _sample(self, depth: int) -> Architecture:
        steps = self.layout.steps(depth)
        with torch.no_grad():
            tokens, _, _ = self.net.run(steps, generator=self.generator)
        return self.layout.architecture(steps, tokens, depth)

    def tell(self, arch: Architecture, result: Result) -> None:
        asked_at = self.pending.pop(self.space.key(arch), self.updates)
        reward = self.reward_of(result)
        if reward is None:
            return  # a failed or NaN trial never trains the controller
        staleness = self.updates - asked_at
        if self.max_staleness is not None and staleness > self.max_staleness:
            self.history.append({"update": self.updates, "dropped_stale": staleness})
            return
        self.buffer.append((arch.to_dict(), reward, staleness))
        if len(self.buffer) >= self.batch:
            self._update()

    def reward_of(self, result: Result) -> float | None:
        value = result.metrics.get(self.reward_metric) if result.ok else None
        if value is None or not math.isfinite(value):
            return None
        if self.reward == "accuracy":
            return value / 100.0
        if self.reward == "accuracy_cubed":
            return (value / 100.0) ** 3
        return float(value)

    def _update(self) -> None:
        """One REINFORCE step on the buffered (architecture, reward) pairs."""
        rewards = np.array([r for _, r, _ in self.buffer])
        baseline = float(rewards.mean()) if self.baseline is None else self.baseline
        loss, entropies = self.net.start.new_zeros(()), []
        for arch, reward, _ in self.buffer:
            log_prob, entropy, n_tokens = self.layout.score(self.net, Architecture(arch))
            loss = loss - (reward - baseline) * log_prob - self.entropy_weight * entropy
            entropies.append(float(entropy.detach()) / max(n_tokens, 1))
        self.optimizer.zero_grad(set_to_none=True)
        (loss / len(self.buffer)).backward()
        self.optimizer.step()
        for reward in rewards:  # the moving average over past rewards, in arrival order
            baseline = self.baseline_decay * baseline + (1 - self.baseline_decay) * reward
        self.baseline = baseline
        self.updates += 1
        self.history.append({
            "update": self.updates, "told": self.n_asked, "reward_mean": float(rewards.mean()),
            "reward_max": float(rewards.max()), "baseline": baseline,
            "entropy": float(np.mean(entropies)), "depth": self.layout.depth(self.n_asked),
            "staleness_max": float(max(s for _, _, s in self.buffer)),
        })
        self.buffer = []

    def extra_state(self) -> dict[str, Any]:
        return {"net": copy.deepcopy(self.net.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "generator": self.generator.get_state(), "baseline": self.baseline,
                "buffer": list(self.buffer), "pending": dict(self.pending),
                "updates": self.updates, "n_asked": self.n_asked, "history": list(self.history)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline, self.buffer = state["baseline"], list(state["buffer"])
        self.pending, self.updates = dict(state["pending"]), state["updates"]
        self.n_asked, self.history = state["n_asked"], list(state["history"])

    def report_plots(self, run_dir: Path) -> list[Plot]:
        from nasforge.report.controller import plot_controller
        from nasforge.report.figure import Plot

        if plot_controller(self.history, run_dir / "plots" / "controller.png"):
            return [Plot("plots/controller.png", "Controller: reward, baseline and entropy")]
        return []


@runtime_checkable
class LayerWise(Protocol):
    """A space the controller writes layer by layer (Zoph & Le's macro CNN): its connection
    decisions (label -> (layer, input layer)), each layer's decisions in the order the
    controller emits them, and the layer of a decision (None: a global one)."""

    def anchor_decisions(self) -> dict[str, tuple[int, int]]: ...

    def layer_decisions(self, i: int) -> list[Categorical]: ...

    def layer_of(self, label: str) -> int | None: ...


class Layout:
    """How the controller walks a space: the steps, their softmax kinds, and the mapping
    between tokens and architectures. Spaces with ``anchor_decisions`` (connections) and
    ``layer_decisions(i)`` are written layer by layer with an anchor step per layer; their
    ``depth`` decision follows the curriculum. Other spaces: one step per decision."""

    def __init__(self, space: SearchSpace, curriculum: dict[str, int] | None) -> None:
        self.space = space
        decisions = space.decisions
        if not decisions or not all(isinstance(d, Categorical) for d in decisions):
            raise ConfigError(f"the controller needs a space of categorical decisions; "
                              f"{space.name!r} has none or others")
        self.by_label = {d.label: d for d in decisions}
        self.layers = space if isinstance(space, LayerWise) else None
        self.layered = self.layers is not None
        self.anchors: dict[tuple[int, int], str] = {}
        if self.layers is not None:
            self.anchors = {ij: label for label, ij in self.layers.anchor_decisions().items()}
        self.curriculum = _check_curriculum(curriculum, self.layered)

    def kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for d in self.space.decisions:
            if d.label in self.anchors.values() or (self.layered and d.label == "depth"):
                continue
            kind = self.kind(d.label)
            if kinds.setdefault(kind, len(d)) != len(d):
                raise ConfigError(f"decisions of kind {kind!r} differ in their options")
        return kinds

    def kind(self, label: str) -> str:
        """Layers share one softmax per token kind (L03/filters -> filters), as the depth
        grows during the curriculum; other decisions have their own."""
        if self.layered and "/" in label:
            return label.split("/", 1)[1]
        return label

    def depth(self, n_asked: int) -> int:
        if not self.layered or "depth" not in self.by_label:
            return 0
        options = [int(o) for o in self.by_label["depth"].options]
        if self.curriculum is None:
            return max(options)
        grown = self.curriculum["start"] + self.curriculum["step"] * (
            n_asked // self.curriculum["every"])
        return min(max(grown, min(options)), max(options))

    def steps(self, depth: int) -> list[Step]:
        if self.layers is None:
            return [Step(kind=self.kind(d.label)) for d in self.space.decisions]
        steps: list[Step] = []
        for i in range(depth):
            steps += [Step(kind=self.kind(d.label))
                      for d in self.layers.layer_decisions(i)]
            steps.append(Step(layer=i, inputs=tuple(range(i))))
        steps += [Step(kind=self.kind(label)) for label in self._globals()]
        return steps

    def _globals(self) -> list[str]:
        assert self.layers is not None  # global decisions exist in layer-wise spaces only
        layer_of = self.layers.layer_of
        return [d.label for d in self.space.decisions
                if layer_of(d.label) is None and d.label != "depth"]

    def architecture(self, steps: list[Step], tokens: list[int], depth: int) -> Architecture:
        """The architecture the tokens of ``steps`` spell; decisions of unused layers keep
        their first option (the space's key ignores them)."""
        del steps
        values: dict[str, Any] = {d.label: d.options[0] for d in self.space.decisions}
        for label, token in zip(self._token_labels(depth), tokens, strict=True):
            values[label] = self.by_label[label].options[token]
        if self.layered and "depth" in self.by_label:
            values["depth"] = self._depth_option(depth)
        return Architecture(values)

    def _depth_option(self, depth: int) -> Any:
        return next(o for o in self.by_label["depth"].options if int(o) == depth)

    def _token_labels(self, depth: int) -> list[str]:
        if self.layers is None:
            return [d.label for d in self.space.decisions]
        labels: list[str] = []
        for i in range(depth):
            labels += [d.label for d in self.layers.layer_decisions(i)]
            labels += [self.anchors[(i, j)] for j in range(i)]
        return labels + self._globals()

    def score(self, net: ControllerNet, arch: Architecture) -> tuple[torch.Tensor,
                                                                     torch.Tensor, int]:
        """log P(arch) and its entropy under ``net`` (with gradients), and the token count."""
        depth = int(arch["depth"]) if self.layered and "depth" in self.by_label else 0
        labels = self._token_labels(depth)
        tokens = [self.by_label[label].index(arch[label]) for label in labels]
        _, log_prob, entropy = net.run(self.steps(depth), given=tokens)
        return log_prob, entropy, len(tokens)


def _check_curriculum(curriculum: dict[str, int] | None, layered: bool) -> dict[str, int] | None:
    if curriculum is None:
        return None
    if not layered:
        raise ConfigError("strategy.curriculum needs a space with layers (e.g. macro)")
    unknown = sorted(set(curriculum) - {"start", "step", "every"})
    if unknown or set(curriculum) != {"start", "step", "every"}:
        raise ConfigError("strategy.curriculum needs exactly start, step and every "
                          "(paper: {start: 6, step: 2, every: 1600})")
    if curriculum["every"] < 1 or curriculum["start"] < 1 or curriculum["step"] < 0:
        raise ConfigError("strategy.curriculum: start >= 1, step >= 0, every >= 1")
    return dict(curriculum)
