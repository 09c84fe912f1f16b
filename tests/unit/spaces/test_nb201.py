import collections
import random

import numpy as np
import pytest
import torch

from nasforge.errors import ArchitectureError
from nasforge.nn.counting import count_flops, count_params
from nasforge.spaces.nb201 import NB201_OPS, NB201Space
from nasforge.task import Shape

CIFAR10 = Shape((3, 32, 32), 10)
OPTIMUM = (  # the CIFAR-10 optimum, index 6111
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


@pytest.fixture(scope="module")
def space():
    return NB201Space()


def test_string_round_trip_for_every_table_row(space, nb201_table):
    for arch_str in nb201_table.rows:
        assert space.format(space.parse(arch_str)) == arch_str


def test_isomorphism_key_matches_the_table_classes(space, nb201_table):
    keys = {s: space.key(space.parse(s)) for s in nb201_table.rows}
    assert len(set(keys.values())) == 6466
    assert all(keys[s] == row["unique_str"] for s, row in nb201_table.rows.items())


def test_architecture_zero_has_nb201_param_count(space, nb201_table):
    arch_str = next(iter(nb201_table.rows))
    model = space.build(space.parse(arch_str), CIFAR10)
    assert count_params(model) == 129_306
    assert count_flops(model, CIFAR10.input_shape) == pytest.approx(15.64737e6, abs=10)


def test_param_and_flop_parity_on_sampled_rows(space, nb201_table):
    rows = random.Random(0).sample(sorted(nb201_table.rows.items()), 60)
    for arch_str, row in rows:
        model = space.build(space.parse(arch_str), CIFAR10)
        assert count_params(model) == round(float(row["params_mb_c10"]) * 1e6), arch_str
        assert count_flops(model, (3, 32, 32)) == pytest.approx(
            float(row["flops_m_c10"]) * 1e6, abs=10), arch_str


def test_param_parity_for_every_row(space, nb201_table):
    """Every row, without building 15,625 networks: a cell's parameters come only from its
    ops, one op per edge, so the count is a function of the op multiset. Build one network per
    multiset (checking it against every row that shares it)."""
    by_ops = collections.defaultdict(list)
    example = {}
    for arch_str, row in nb201_table.rows.items():
        arch = space.parse(arch_str)
        ops = tuple(sorted(arch.values()))
        by_ops[ops].append(round(float(row["params_mb_c10"]) * 1e6))
        example.setdefault(ops, arch)
    for ops, counts in by_ops.items():
        assert set(counts) == {count_params(space.build(example[ops], CIFAR10))}, ops


@pytest.mark.parametrize("shape", [Shape((3, 16, 16), 10), Shape((1, 40), 10)])
def test_cost_without_building_equals_measuring_the_network(shape):
    space = NB201Space(C=8, N=2)
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(12)] + [space.parse(OPTIMUM)]
    for arch in cells:
        model = space.build(arch, shape)
        cost = space.cost(arch, shape)
        assert (cost.params, cost.flops) == (
            count_params(model), count_flops(model, shape.input_shape)), space.format(arch)


def test_cost_matches_the_table_flops(space, nb201_table):
    for arch_str, row in random.Random(1).sample(sorted(nb201_table.rows.items()), 200):
        cost = space.cost(space.parse(arch_str), CIFAR10)
        assert cost.params == round(float(row["params_mb_c10"]) * 1e6), arch_str
        assert cost.flops == pytest.approx(float(row["flops_m_c10"]) * 1e6, abs=10), arch_str


def test_forward_2d_and_1d(space):
    arch = space.parse(OPTIMUM)
    small = NB201Space(C=4, N=1)
    out = small.build(arch, Shape((3, 16, 16), 7))(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 7)
    out = small.build(arch, Shape((1, 40), 10))(torch.randn(2, 1, 40))
    assert out.shape == (2, 10)


@pytest.mark.parametrize("size", [7, 13, 14, 15])
def test_odd_sizes_through_the_reduction_blocks(space, size):
    model = NB201Space(C=4, N=1).build(space.parse(OPTIMUM), Shape((1, size, size), 3))
    assert model(torch.randn(2, 1, size, size)).shape == (2, 3)


def test_all_none_cell_still_builds_and_runs():
    arch = NB201Space().parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    out = NB201Space(C=4, N=1).build(arch, Shape((1, 40), 10))(torch.randn(3, 1, 40))
    assert out.shape == (3, 10) and torch.isfinite(out).all()


def test_mutate_changes_exactly_one_edge_to_another_op(space):
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = space.sample(rng)
        child = space.mutate(arch, rng)
        changed = [k for k in arch if arch[k] != child[k]]
        assert len(changed) == 1 and space.contains(child)


def test_sample_covers_all_ops(space):
    rng = np.random.default_rng(1)
    seen = {op for _ in range(100) for op in space.sample(rng).values()}
    assert seen == set(NB201_OPS)


@pytest.mark.parametrize(
    "bad, match",
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "3 '\\+'-separated"),
        ("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_9x9'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "bad edge"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not in"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "needs 2 inputs"),
    ],
)
def test_malformed_strings_are_rejected(space, bad, match):
    with pytest.raises(ArchitectureError, match=match):
        space.parse(bad)


def test_contains_rejects_foreign_architectures(space):
    arch = space.parse(OPTIMUM)
    assert space.contains(arch)
    assert not space.contains(arch.replace(**{"1<-0": "conv_7x7"}))
    from nasforge.architecture import Architecture
    assert not space.contains(Architecture(a=1))
