import numpy as np
import pytest
import torch

from nasforge.spaces.darts.space import EDGE_LABELS, DartsSpace
from nasforge.supernet import build_supernet
from nasforge.supernet.darts import (
    DartsSupernet,
    architecture_from_edges,
    edges_from_architecture,
)
from nasforge.task import Shape

SHAPES = [Shape((1, 24), 5), Shape((3, 12, 12), 4)]
NO_POOL = ["none", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
           "dil_conv_5x5"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks, shared cores


def tiny(shape: Shape, **options: object) -> DartsSupernet:
    torch.manual_seed(0)
    return build_supernet(DartsSpace(C=4, layers=3, **options), shape)  # type: ignore[arg-type]


def test_edges_and_ops():
    net = tiny(SHAPES[0])
    assert net.edges == EDGE_LABELS and net.alpha_shape == (28, 8)
    assert net.edges[0] == "normal/2<-0" and net.edges[-1] == "reduce/5<-4"
    s1 = tiny(SHAPES[0], space_variant="s1")
    assert s1.alpha_shape == (28, 2)
    assert s1.edge_ops[EDGE_LABELS.index("reduce/2<-0")] == ("max_pool_3x3", "avg_pool_3x3")
    # pooling carries DARTS's search-time BN (affine=False)
    cell = net.net.cells[1]
    pool = cell.edges["2<-0"].ops[net.edge_ops[0].index("max_pool_3x3")]
    assert isinstance(pool[1], torch.nn.BatchNorm1d) and not pool[1].affine


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_forward_backward_with_softmax_weights(shape):
    net = tiny(shape)
    alpha = (1e-3 * torch.randn(net.alpha_shape)).requires_grad_()
    net.set_weights(torch.softmax(alpha, dim=-1))
    out = net(torch.randn(3, *shape.input_shape))
    assert out.shape == (3, shape.num_classes)
    out.logsumexp(-1).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    assert net.net.stem[0].weight.grad is not None


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
def test_set_path_equals_export(shape):
    """Without pooling (which has an extra BN in the supernet only) the single path and the
    exported network compute the same function, in train and in eval mode."""
    net = tiny(shape, ops=NO_POOL)
    arch = net.space.sample(np.random.default_rng(3))
    net.set_path(arch)
    model = net.export(arch)
    x = torch.randn(4, *shape.input_shape)
    net.train()
    model.train()
    assert torch.allclose(net(x), model(x), atol=1e-6)
    net.eval()
    model.eval()
    assert torch.allclose(net(x), model(x), atol=1e-6)


def test_export_copies_weights():
    net = tiny(SHAPES[1])
    arch = net.space.sample(np.random.default_rng(0))
    model = net.export(arch)
    assert torch.equal(model.cells[0].preprocess1[1].weight, net.net.cells[0].preprocess1[1].weight)
    edges = edges_from_architecture(net.space, arch)
    convs = [(label, op) for label, op in edges.items()
             if label.startswith("normal/") and "conv" in op]
    if convs:
        label, op = convs[0]
        local = label.split("/")[1]
        k = net.edge_ops[net.edges.index(label)].index(op)
        assert torch.equal(model.cells[0].edges[local][1].weight,
                           net.net.cells[0].edges[local].ops[k][1].weight)


def test_masking_every_op_of_an_edge_zeroes_it():
    shape = SHAPES[0]
    torch.manual_seed(0)  # edge by edge: the hook sees MixedOp.forward, which the fused cell
    # does not call (tests/unit/supernet/test_fused_darts.py checks that both agree)
    net = DartsSupernet(shape, DartsSpace(C=4, layers=3, ops=["skip_connect", "sep_conv_3x3"]),
                        fused=False)
    net.eval()
    cell = net.net.cells[0]
    captured = {}
    hook = cell.edges["3<-0"].register_forward_hook(lambda m, i, o: captured.update(out=o))
    x = torch.randn(2, *shape.input_shape)
    net(x)
    assert captured["out"].abs().sum() > 0
    for op in ("skip_connect", "sep_conv_3x3"):
        net.mask("normal/3<-0", op)
    net(x)
    assert torch.count_nonzero(captured["out"]) == 0
    net.unmask("normal/3<-0")
    net.discretize("normal/3<-0", "sep_conv_3x3")
    net.remove_edge("normal/3<-0")  # also after the edge was discretized
    net(x)
    assert torch.count_nonzero(captured["out"]) == 0
    net.restore_edge("normal/3<-0")
    net(x)
    assert captured["out"].abs().sum() > 0
    hook.remove()


def test_architecture_from_edges_helpers():
    space = DartsSpace(C=4, layers=3)
    arch = space.sample(np.random.default_rng(7))
    edges = edges_from_architecture(space, arch)
    assert architecture_from_edges(space, edges) == arch
    assert sum(label.startswith("reduce/4<-") for label in edges) == 2


def test_discretize_then_remove_edges_gives_the_exported_network():
    """The DARTS-PT flow: decide every edge's op, cut each node down to 2 inputs by masking
    every op of the other edges; the supernet then computes the exported network."""
    shape = SHAPES[1]
    net = tiny(shape, ops=NO_POOL)
    arch = net.space.sample(np.random.default_rng(5))
    kept = edges_from_architecture(net.space, arch)
    rng = np.random.default_rng(0)
    for e, edge in enumerate(net.edges):
        ops = net.edge_ops[e]
        net.discretize(edge, kept.get(edge, ops[int(rng.integers(len(ops)))]))
    nodes = net.node_inputs()
    assert nodes["reduce/4"] == ["reduce/4<-0", "reduce/4<-1", "reduce/4<-2", "reduce/4<-3"]
    for edges in nodes.values():
        for edge in edges:
            if edge not in kept:
                for op in net.edge_ops[net.edges.index(edge)]:
                    net.mask(edge, op)
    assert net.to_architecture(kept) == arch
    model = net.export(arch)
    x = torch.randn(4, *shape.input_shape)
    assert torch.allclose(net(x), model(x), atol=1e-6)


def test_search_network_parameter_count():
    """C=16, 8 cells, 8 ops on CIFAR-10: 1,930,618 weights, the official search log's
    "param size = 1.930618MB"."""
    from nasforge.nn.counting import count_params

    net = build_supernet(DartsSpace(), Shape((3, 32, 32), 10))
    assert count_params(net) == 1_930_618


def test_channels_last_gives_the_same_logits_and_gradients():
    shape = SHAPES[1]
    nets = [tiny(shape), tiny(shape)]
    nets[1].channels_last = False
    # a fixed input: the loss has kinks (ReLU, max pooling) and the batch norms of this tiny
    # net couple every gradient to each unit, so at some inputs float rounding alone puts the
    # two layouts on either side of a kink (there, moving the input by 1e-7 in float64 moves
    # the gradients by 7e-4); this one is not such an input
    x = torch.randn(4, *shape.input_shape, generator=torch.Generator().manual_seed(3))
    w = torch.softmax(torch.randn(28, 8, generator=torch.Generator().manual_seed(1)), -1)
    outs = []
    for net in nets:
        net.set_weights(w)
        out = net(x)
        out.square().sum().backward()
        outs.append(out)
    stem = [net.net.stem[0].weight for net in nets]
    assert stem[0].is_contiguous(memory_format=torch.channels_last)
    assert not stem[1].is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert torch.allclose(a.grad, b.grad, atol=1e-4)
