import numpy as np
import pytest
import torch

from nasforge.errors import ArchitectureError, ConfigError
from nasforge.nn.counting import count_params
from nasforge.registry import SPACES
from nasforge.spaces.darts.ops import make_darts_op
from nasforge.spaces.darts.s1 import S1_EDGE_OPS
from nasforge.spaces.darts.space import DARTS_PRIMITIVES, EDGE_LABELS, DartsSpace, decision_label
from nasforge.task import Shape

DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
    "reduce_concat=[2, 3, 4, 5])"
)
SMALL_SHAPES = [Shape((1, 24), 5), Shape((3, 12, 12), 4)]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks, shared cores


@pytest.fixture(scope="module")
def space():
    return DartsSpace(C=4, layers=3)


def test_decisions_and_registry():
    space = SPACES.build("darts")
    assert len(space.decisions) == 24
    inputs = {d.label: d.options for d in space.decisions if d.label.endswith("inputs")}
    assert inputs["normal_n2_inputs"] == ("0,1",)
    assert len(inputs["reduce_n5_inputs"]) == 10
    assert space.options() == {"C": 16, "layers": 8, "ops": None, "space_variant": "darts",
                               "edge_ops": None}
    assert len(EDGE_LABELS) == 28 and EDGE_LABELS[2] == "normal/3<-0"


def test_darts_v2_parses_and_round_trips(space):
    arch = space.parse(DARTS_V2)
    assert arch[decision_label("normal", 5, "inputs")] == "0,2"
    assert arch[decision_label("normal", 5, "op_b")] == "dil_conv_3x3"
    text = space.format(arch)
    assert text.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)")
    assert "normal_concat=range(2, 6)" in text and text.endswith("reduce_concat=range(2, 6))")
    assert space.parse(text) == arch
    assert space.parse(arch.to_json()) == arch


def test_key_is_invariant_to_slot_order(space):
    swapped = DARTS_V2.replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1)",
                               "('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", 1)
    assert swapped != DARTS_V2
    assert space.key(space.parse(swapped)) == space.key(space.parse(DARTS_V2))


@pytest.mark.parametrize("text", [
    "", "Genotype(", "__import__('os').system('true')", "Genotype(normal=[])",
    DARTS_V2.replace("dil_conv_3x3", "dil_conv_9x9"),  # unknown op
    DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),  # input after the node
    DARTS_V2.replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 0)", 1),  # same input twice
    DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"),
    DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 10**9)"),
    DARTS_V2.replace("reduce=", "reduction="),
    DARTS_V2.replace("('skip_connect', 0), ('skip_connect', 0)", "(skip_connect, 0), (1, 0)"),
])
def test_bad_genotypes_raise_one_line(space, text):
    with pytest.raises(ArchitectureError) as info:
        space.parse(text)
    assert "\n" not in str(info.value)


def test_sample_and_mutate_stay_valid_and_change_one_thing(space):
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        child = space.mutate(arch, rng)
        assert space.contains(arch) and space.contains(child) and child != arch
        before, after = space.edges_from_architecture(arch), space.edges_from_architecture(child)
        assert len(set(before.items()) ^ set(after.items())) == 2  # one edge or op changed


def test_edges_round_trip_and_bad_edges(space):
    arch = space.parse(DARTS_V2)
    edges = space.edges_from_architecture(arch)
    assert len(edges) == 16 and edges["normal/5<-2"] == "dil_conv_3x3"
    assert space.architecture_from_edges(edges) == arch
    with pytest.raises(ArchitectureError, match="exactly 2"):
        space.architecture_from_edges({**edges, "normal/5<-1": "sep_conv_3x3"})
    with pytest.raises(ArchitectureError, match="unknown DARTS edge"):
        space.architecture_from_edges({**edges, "normal/6<-1": "sep_conv_3x3"})


@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=["1d", "2d"])
def test_build_forward_small_inputs_with_none_edges(space, shape):
    arch = space.parse(DARTS_V2.replace("('skip_connect', 0), ('dil_conv_3x3', 2)",
                                        "('none', 0), ('none', 2)"))
    model = space.build(arch, shape)
    out = model(torch.randn(2, *shape.input_shape))
    assert out.shape == (2, shape.num_classes)
    out.sum().backward()


def test_darts_v2_parameter_count():
    """DARTS_V2 at C=36, 20 cells, 10 classes: 3,349,342 parameters, the official
    count_parameters_in_MB (3.35M, which leaves out the auxiliary head)."""
    space = DartsSpace(C=36, layers=20)
    model = space.build(space.parse(DARTS_V2), Shape((3, 32, 32), 10))
    assert count_params(model) == 3_349_342


def test_variants_ops():
    assert DartsSpace(space_variant="s2").candidates["reduce/5<-4"] == (
        "skip_connect", "sep_conv_3x3")
    assert DartsSpace(space_variant="s3").candidates["normal/2<-0"] == (
        "none", "skip_connect", "sep_conv_3x3")
    assert DartsSpace(space_variant="s4").candidates["normal/4<-3"] == ("noise", "sep_conv_3x3")
    assert DartsSpace().candidates["normal/2<-0"] == DARTS_PRIMITIVES
    assert DartsSpace(ops=["skip_connect", "sep_conv_5x5"]).candidates["reduce/3<-2"] == (
        "skip_connect", "sep_conv_5x5")
    with pytest.raises(ConfigError):
        DartsSpace(ops=["sep_conv_3x3"], space_variant="s2")
    with pytest.raises(ConfigError):
        DartsSpace(ops=["conv_9x9"])


def test_s1_per_edge_ops_constrain_sampling_and_validation():
    space = DartsSpace(C=4, layers=3, space_variant="s1")
    assert space.candidates["normal/5<-4"] == ("dil_conv_3x3", "dil_conv_5x5")
    assert space.candidates["reduce/2<-1"] == ("max_pool_3x3", "dil_conv_3x3")
    rng = np.random.default_rng(1)
    for _ in range(30):
        arch = space.mutate(space.sample(rng), rng)
        for edge, op in space.edges_from_architecture(arch).items():
            assert op in S1_EDGE_OPS[edge]
    bad = space.sample(rng).replace(normal_n2_op_a="sep_conv_5x5")
    assert not space.contains(bad)
    custom = {**S1_EDGE_OPS, "normal/2<-0": ["sep_conv_5x5", "noise"]}
    assert DartsSpace(edge_ops=custom).candidates["normal/2<-0"] == ("sep_conv_5x5", "noise")
    with pytest.raises(ConfigError, match="all 28 edges"):
        DartsSpace(space_variant="s1", edge_ops={"normal/2<-0": ["skip_connect"]})


@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=["1d", "2d"])
def test_noise_and_reduce_ops_shapes(shape):
    x = torch.randn(2, 4, *shape.input_shape[1:])
    half = tuple((n + 1) // 2 for n in shape.input_shape[1:])
    for name in ("noise", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "sep_conv_5x5",
                 "dil_conv_5x5", "none"):
        assert make_darts_op(name, 4, 4, 1, shape.dim)(x).shape == x.shape, name
        assert make_darts_op(name, 4, 4, 2, shape.dim)(x).shape == (2, 4, *half), name
    odd = torch.randn(2, 4, *(7,) * shape.dim)
    assert make_darts_op("skip_connect", 4, 4, 2, shape.dim)(odd).shape[2:] == (4,) * shape.dim
    noise = make_darts_op("noise", 4, 4, 1, shape.dim)
    assert not torch.equal(noise(x), noise(x))


def test_cell_drawing(tmp_path, space):
    from nasforge.report.cells import draw_cell, draw_darts, find_drawer

    assert find_drawer(space) is draw_darts
    path = draw_cell(space, space.parse(DARTS_V2), tmp_path / "cell.png", title="DARTS_V2")
    assert path.stat().st_size > 10_000
