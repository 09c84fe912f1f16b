import numpy as np
import pytest
import torch

from nasforge.errors import ArchitectureError, ConfigError
from nasforge.spaces.nb201 import NB201Space
from nasforge.supernet.mixed import MixedOp
from nasforge.supernet.nb201 import NB201Supernet
from nasforge.task import Shape

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def test_mixed_op_modes_are_weight_patterns():
    torch.manual_seed(0)
    op = MixedOp(OPS, 4, 4, 1, dim=1)
    x = torch.randn(2, 4, 10)
    w = torch.softmax(torch.randn(5), 0)
    weighted = op(x, w, [1, 2, 3, 4])
    manual = sum(w[i] * op.ops[i](x) for i in range(1, 5))
    assert torch.allclose(weighted, manual, atol=1e-6)
    single = op(x, torch.tensor([0.0, 0, 0, 1, 0]), [3])
    assert torch.allclose(single, op.ops[3](x))
    assert torch.equal(op(x, w, []), torch.zeros_like(x))  # every op masked or none


def test_single_path_only_trains_that_path():
    net = NB201Supernet(Shape((1, 16), 3), C=4, N=1)
    arch = NB201Space().parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"
                              "+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    net.set_path(arch)
    net(torch.randn(4, 1, 16)).sum().backward()
    cell = net.net.cells[0].edges
    assert cell["1<-0"].ops[3][1].weight.grad is not None
    assert cell["1<-0"].ops[2][1].weight.grad is None  # the unused 1x1 conv on that edge


def test_export_inherits_the_path_weights():
    shape = Shape((1, 16), 3)
    net = NB201Supernet(shape, C=4, N=1)
    arch = NB201Space().sample(np.random.default_rng(3))
    net.set_path(arch)
    net.train()
    net(torch.randn(8, 1, 16))  # move the BN statistics off their init
    net.eval()
    model = net.export(arch).eval()
    x = torch.randn(5, 1, 16)
    assert torch.allclose(net(x), model(x), atol=1e-6)


def test_mask_discretize_and_checkpointed_verbs():
    net = NB201Supernet(Shape((1, 16), 3), C=4, N=1)
    net.mask("2<-1", "nor_conv_3x3")
    assert 3 not in net.arch_state.active[net.edges.index("2<-1")]
    net.discretize("1<-0", "skip_connect")
    assert net.arch_state.active[0] == [1] and net.discretized() == {"1<-0": "skip_connect"}
    for op in OPS:  # removing a decided edge entirely (topology step)
        net.mask("1<-0", op)
    assert net.arch_state.active[0] == []
    other = NB201Supernet(Shape((1, 16), 3), C=4, N=1)
    other.load_verb_state(net.verb_state())
    assert other.arch_state.active == net.arch_state.active


def test_bad_verbs_and_shapes():
    net = NB201Supernet(Shape((1, 16), 3), C=4, N=1)
    with pytest.raises(ArchitectureError, match="unknown edge"):
        net.mask("9<-0", "none")
    with pytest.raises(ArchitectureError, match="has no op"):
        net.discretize("1<-0", "sep_conv_3x3")
    with pytest.raises(ConfigError, match="shape"):
        net.set_weights(torch.ones(3, 5))
    with pytest.raises(ArchitectureError, match="unknown NB201 ops"):
        NB201Supernet(Shape((1, 16), 3), ops=("skip_connect", "conv_9x9"))
