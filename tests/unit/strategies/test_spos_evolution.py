import numpy as np
import pytest

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.nn.counting import Cost
from nasforge.spaces.base import FunctionSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.spos_evolution import SPOSEvolution, crossover, resample_genes
from nasforge.task import Shape

CONV = "nor_conv_3x3"


def convs(arch):
    return sum(op == CONV for op in arch.values())


def run(strategy, objective=convs, budget=10_000):
    asked = []
    while not strategy.finished and len(asked) < budget:
        arch = strategy.ask()
        strategy.tell(arch, Result(metrics={"valid_acc": float(objective(arch))}))
        asked.append(arch)
    return asked


def test_generations_have_the_paper_shape_and_find_the_optimum():
    space = NB201Space()
    strategy = SPOSEvolution(space, seed=0)  # paper defaults: 50 x 20
    asked = run(strategy)
    assert len(asked) == 50 * 20 and strategy.sizes == [50] * 20
    assert len({space.key(a) for a in asked}) == len(asked)  # never proposes a candidate twice
    assert max(convs(a) for a in asked) == 6  # the all-conv cell
    best = [row["best"] for row in strategy.history]
    assert best == sorted(best) and best[-1] == 6 and len(best) == 20
    assert [s for _, s in strategy.top] == sorted((s for _, s in strategy.top), reverse=True)


def test_parents_are_the_history_wide_top_k():
    space = NB201Space()
    strategy = SPOSEvolution(space, seed=1, population=20, generations=3, top_k=3,
                             mutation=5, crossover=5, mutation_prob=0.0)
    asked = run(strategy)
    scores = sorted((convs(a) for a in asked), reverse=True)[:3]
    assert [s for _, s in strategy.top] == scores  # over all generations, not the last one
    parents = [set(space.edge_ops(a).items()) for a, _ in strategy.top]
    for _ in range(50):
        assert set(space.edge_ops(strategy._mutant()).items()) in parents  # prob 0: a parent
        child = strategy._cross()
        assert all(any(item in p for p in parents) for item in space.edge_ops(child).items())


def test_resample_genes_and_crossover_rates():
    space = NB201Space()
    rng = np.random.default_rng(0)
    parent = space.sample(rng)
    changed = [sum(parent[k] != v for k, v in resample_genes(space, parent, rng, 0.1).items())
               for _ in range(4000)]
    # each of 6 genes redrawn w.p. 0.1, to a different op w.p. 4/5: mean 6 * 0.08 = 0.48
    assert abs(np.mean(changed) - 0.48) < 0.05
    other = space.sample(rng)
    child = crossover(space, parent, other, rng)
    assert all(child[k] in (parent[k], other[k]) for k in child)


def test_constraints_are_enforced_before_evaluation():
    space = NB201Space(C=4, N=1)  # small networks: their FLOPs are counted fast
    shape = Shape((3, 32, 32), 10)
    rng = np.random.default_rng(9)
    limit = float(np.median([space.cost(space.sample(rng), shape).flops for _ in range(15)]))
    strategy = SPOSEvolution(space, seed=0, population=10, generations=3, top_k=3,
                             mutation=3, crossover=3, constraints={"max_flops": limit})
    asked = run(strategy)
    assert asked and all(space.cost(a, shape).flops <= limit for a in asked)
    assert strategy.rejected > 0


def test_a_small_space_ends_the_search_when_nothing_new_is_left():
    space = FunctionSpace([Categorical("a", [0, 1, 2]), Categorical("b", [0, 1])])
    asked = run(SPOSEvolution(space, seed=0, population=4, generations=10, top_k=2,
                              mutation=1, crossover=1, max_rejections=50),
                objective=lambda arch: arch["a"] + arch["b"])
    assert sorted(a.key() for a in asked) == sorted(
        Architecture({"a": a, "b": b}).key() for a in range(3) for b in range(2))


def test_infeasible_constraints_fail_with_a_clear_error():
    space = FunctionSpace([Categorical("a", [1, 2])])
    space.cost = lambda arch, shape: Cost(params=1, flops=1000)  # type: ignore[method-assign]
    strategy = SPOSEvolution(space, population=4, generations=2, top_k=2, mutation=1,
                             crossover=1, constraints={"max_flops": 10}, max_rejections=20)
    with pytest.raises(ConfigError, match="no architecture satisfies the constraints"):
        strategy.ask()


@pytest.mark.parametrize("options", [{"population": 0}, {"mutation": 30, "crossover": 30},
                                     {"mutation_prob": 1.5}])
def test_bad_options(options):
    with pytest.raises(ConfigError):
        SPOSEvolution(NB201Space(), **options)
