import json

import numpy as np
import pytest

from nasforge.architecture import Architecture, Categorical
from nasforge.constraints import additive_latency, make_constraints
from nasforge.errors import ConfigError
from nasforge.nn.counting import Cost
from nasforge.spaces.base import FunctionSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.random import RandomSearch
from nasforge.task import Shape


class CountedSpace(FunctionSpace):
    """Two decisions; its "FLOPs" are width * depth, computed without building anything."""

    def __init__(self):
        super().__init__([Categorical("width", [1, 2, 4, 8]), Categorical("depth", [1, 2, 3])],
                         name="counted")

    def cost(self, arch, shape):
        return Cost(params=10 * arch["width"], flops=arch["width"] * arch["depth"])


def test_flops_and_params_limits_reject_with_a_reason():
    space = CountedSpace()
    limits = make_constraints(space, None, {"max_flops": 8, "max_params": 40})
    assert limits.violation(Architecture({"width": 4, "depth": 2})) is None
    assert "flops 12" in limits.violation(Architecture({"width": 4, "depth": 3}))
    assert "params 80" in limits.violation(Architecture({"width": 8, "depth": 1}))


def test_random_search_within_limits_is_uniform_over_the_feasible_set():
    space = CountedSpace()
    strategy = RandomSearch(space, seed=0, constraints={"max_flops": 4})
    asked = [strategy.ask() for _ in range(600)]
    assert all(a["width"] * a["depth"] <= 4 for a in asked)
    # feasible: (1,1) (1,2) (1,3) (2,1) (2,2) (4,1): 6 architectures, 100 each on average
    counts = {}
    for a in asked:
        counts[a.key()] = counts.get(a.key(), 0) + 1
    assert len(counts) == 6 and min(counts.values()) > 60
    assert strategy.rejected > 0 and strategy.state_dict()["rejected"] == strategy.rejected


def test_an_infeasible_limit_fails_after_a_bounded_number_of_draws():
    strategy = RandomSearch(CountedSpace(), seed=0, constraints={"max_flops": 0.5},
                            max_rejections=50)
    with pytest.raises(ConfigError, match="no architecture satisfies the constraints"):
        strategy.ask()
    assert strategy.rejected == 50


@pytest.mark.parametrize("options, message", [
    ({"max_flop": 3}, "unknown constraint 'max_flop'"),
    ({"max_flops": -1}, "positive number"),
    ({"max_flops": "many"}, "positive number"),
    ({"max_latency_ms": 3}, "exactly one of"),
])
def test_bad_constraints_are_one_line_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        make_constraints(CountedSpace(), None, options)


def test_latency_from_an_additive_lookup_table(tmp_path):
    space = CountedSpace()
    table = {"base": 1.0, **{f"width={w}": float(w) for w in (1, 2, 4, 8)},
             **{f"depth={d}": 0.5 * d for d in (1, 2, 3)}}
    path = tmp_path / "lut.json"
    path.write_text(json.dumps({"entries": table}))
    limits = make_constraints(space, None, {"max_latency_ms": 4.0, "latency_table": str(path)})
    assert additive_latency(Architecture({"width": 2, "depth": 2}), table) == 4.0
    assert limits.violation(Architecture({"width": 2, "depth": 2})) is None
    assert "latency 4.5" in limits.violation(Architecture({"width": 2, "depth": 3}))
    del table["depth=3"]
    with pytest.raises(ConfigError, match="no entry 'depth=3'"):
        additive_latency(Architecture({"width": 2, "depth": 3}), table)


def test_nb201_latency_and_flops_come_from_the_table_and_the_space():
    space = NB201Space()
    limits = make_constraints(space, None, {"max_latency_ms": 5.0, "nb201_latency": "pixel3"})
    assert limits.shape == Shape((3, 32, 32), 10)
    arch = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert limits.latency(arch) > 0
    with pytest.raises(ConfigError, match="unknown NB201 latency device"):
        make_constraints(space, None, {"max_latency_ms": 5.0, "nb201_latency": "abacus"})
    flops = make_constraints(space, None, {"max_flops": 50e6})
    conv = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                       "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    assert flops.violation(arch) is None and "flops" in flops.violation(conv)
    rng = np.random.default_rng(0)
    ok = [a for a in (space.sample(rng) for _ in range(50)) if flops.violation(a) is None]
    assert 0 < len(ok) < 50


def test_a_bitops_limit_uses_the_space_bitops_and_needs_one():
    from nasforge.spaces.shufflenet.space import ShuffleNetSpace

    space = ShuffleNetSpace(width_mult=0.25, repeats=[1, 1, 1, 1], bits=[4, 32])
    shape = Shape((3, 32, 32), 10)
    low = Architecture({**space.sample(np.random.default_rng(0)).to_dict(),
                        **{f"b{i:02d}/{k}": 4 for i in range(4) for k in ("wbits", "abits")}})
    high = low.replace(**{"b00/wbits": 32, "b00/abits": 32})
    limit = (space.bitops(low, shape) + space.bitops(high, shape)) / 2
    limits = make_constraints(space, shape, {"max_bitops": limit})
    assert limits.violation(low) is None
    assert "bitops" in limits.violation(high)
    with pytest.raises(ConfigError, match="has no bitops"):
        make_constraints(CountedSpace(), None, {"max_bitops": 10})
