"""The static form of a supernet (every op runs, zero weights zero their op; what compiled
steps use) against the dynamic form (only the ops with a weight run): the same outputs,
gradients (None where the dynamic form leaves them None), batch-norm statistics and counts,
on single paths, masks, fixed and removed edges and batch-norm recalibration; and a compiled
training step against an eager one, through the trainer both run."""

import numpy as np
import pytest
import torch
from fused_equivalence import assert_same_state

import nasforge.strategies  # noqa: F401  (registers the strategies)
from nasforge.evaluators.supernet import recalibrate_bn
from nasforge.registry import STRATEGIES
from nasforge.runtime import Runtime
from nasforge.spaces.darts.space import DartsSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.supernet.base import Supernet
from nasforge.supernet.darts import DartsSupernet
from nasforge.supernet.nb201 import NB201Supernet
from nasforge.task import Shape
from nasforge.training import seeded

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks, shared cores
SHAPE = Shape((3, 8, 8), 4)


def twins(kind: str) -> tuple[Supernet, Supernet]:
    """A dynamic and a static supernet holding the same weights."""
    def make() -> Supernet:
        with seeded(0):
            if kind == "nb201":
                return NB201Supernet(SHAPE, C=4, N=1)
            return DartsSupernet(SHAPE, space=DartsSpace(C=4, layers=3))
    dynamic, static = make(), make()
    static.set_static(True)
    return dynamic, static


def space_of(net: Supernet) -> NB201Space | DartsSpace:
    return net.space  # type: ignore[return-value,attr-defined]


def step_both(dynamic: Supernet, static: Supernet, x: torch.Tensor) -> None:
    """A training forward and backward on both: same outputs and gradients, except that a
    gradient the dynamic form leaves None may be exactly zero in the static form (an op that
    ran but is cut off from the output by a ``none`` edge; ops off the path or masked are
    None in both: ``release_unused_grads``)."""
    outs = []
    for net in (dynamic, static):
        net.zero_grad(set_to_none=True)
        y = net.train()(x)
        y.square().sum().backward()
        outs.append(y)
    static.release_unused_grads()
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    for (name, p), q in zip(dynamic.named_parameters(), static.parameters(), strict=True):
        if p.grad is None:
            assert q.grad is None or not q.grad.any(), name
        else:
            assert q.grad is not None and torch.allclose(p.grad, q.grad, atol=1e-4), name
    released = {id(p) for e, i, m in static.op_modules() for p in m.parameters()
                if i not in static.arch_state.running[e]}
    assert all(p.grad is None for p in static.parameters() if id(p) in released)
    assert_same_state(dynamic, static)


@pytest.mark.parametrize("kind", ["nb201", "darts"])
def test_single_paths_match(kind):
    dynamic, static = twins(kind)
    x = torch.randn(4, *SHAPE.input_shape)
    for seed in range(3):
        arch = space_of(dynamic).sample(np.random.default_rng(seed))
        for net in (dynamic, static):
            net.set_path(arch)
        assert static.arch_state.active != dynamic.arch_state.active  # more ops run
        step_both(dynamic, static, x)


@pytest.mark.parametrize("kind", ["nb201", "darts"])
def test_masks_fixed_and_removed_edges_match(kind):
    dynamic, static = twins(kind)
    x = torch.randn(4, *SHAPE.input_shape)
    weights = torch.softmax(torch.randn(dynamic.alpha_shape), -1)
    first, second = dynamic.edges[0], dynamic.edges[-1]
    for net in (dynamic, static):
        net.set_weights(weights)
        net.mask(first, dynamic.edge_ops[0][1])
        net.discretize(second, dynamic.edge_ops[-1][-1])
        if isinstance(net, DartsSupernet):
            net.remove_edge(dynamic.edges[1])
    step_both(dynamic, static, x)


def test_recalibration_on_a_path_matches():
    dynamic, static = twins("nb201")
    arch = space_of(dynamic).sample(np.random.default_rng(4))
    batches = [(torch.randn(4, *SHAPE.input_shape), None) for _ in range(3)]
    for net in (dynamic, static):
        net.set_path(arch)
        recalibrate_bn(net, batches)
    assert_same_state(dynamic, static)
    with torch.no_grad():
        assert torch.allclose(dynamic.eval()(batches[0][0]), static.eval()(batches[0][0]),
                              atol=1e-5)


@pytest.mark.parametrize("name", ["darts", "spos"])
def test_a_compiled_step_matches_an_eager_one(name, tiny_task):
    """``compile: true`` through the same trainer, captured by torch.compile (the "aot_eager"
    backend: dynamo's and AOTAutograd's capture without inductor's code generation, which
    takes minutes on a CPU): the same losses and weights, in one graph for every path."""
    space = NB201Space(C=4, N=1)
    runs = []
    for runtime in (Runtime(), Runtime(compile=True, compile_backend="aot_eager")):
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        strategy = STRATEGIES.build(name, space=space, seed=0, epochs=2, max_batches=3)
        with seeded(0):
            net = strategy.make_supernet(tiny_task.shape)
        strategy.setup(net, tiny_task, runtime)
        runs.append(([strategy.train_epoch(e)["train_loss"] for e in range(2)], net))
        if runtime.compile:
            assert net.arch_state.static
            assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    assert np.allclose(runs[0][0], runs[1][0], atol=1e-5)
    assert_same_state(runs[0][1], runs[1][1])


@pytest.fixture
def tiny_task():
    from nasforge.data.base import tensor_task

    gen = np.random.default_rng(0)
    x = gen.normal(size=(120, 3, 8, 8)).astype(np.float32)
    y = (x[:, 0].mean((1, 2)) > 0).astype(np.int64)
    return tensor_task("tiny", x[:100], y[:100], x[100:], y[100:], num_classes=2, seed=0,
                       batch_size=16, valid_fraction=0.5)
