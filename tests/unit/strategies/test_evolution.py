import numpy as np
import pytest

from nasforge.architecture import Categorical
from nasforge.errors import ConfigError
from nasforge.evaluators.base import Result
from nasforge.spaces.base import FunctionSpace
from nasforge.strategies.evolution import RegularizedEvolution


def bits_space(n: int = 12) -> FunctionSpace:
    return FunctionSpace([Categorical(f"b{i}", [0, 1]) for i in range(n)])


def onemax(arch) -> Result:
    return Result(metrics={"valid_acc": float(sum(arch.values()))})


def run(strategy, steps):
    asked = []
    for _ in range(steps):
        arch = strategy.ask()
        strategy.tell(arch, onemax(arch))
        asked.append(arch)
    return asked


def test_evolution_beats_random_on_onemax():
    best = []
    for seed in range(5):
        asked = run(RegularizedEvolution(bits_space(), seed=seed, population=20, sample_size=5),
                    300)
        best.append(max(sum(a.values()) for a in asked))
    assert np.mean(best) == 12  # random search over 300 draws rarely finds all 12 ones


def test_population_ages_out_the_oldest():
    strategy = RegularizedEvolution(bits_space(), seed=0, population=5, sample_size=2)
    asked = run(strategy, 8)
    assert [a for a, _ in strategy.population] == asked[-5:]


def test_first_population_is_random_then_children_differ_by_one_gene():
    strategy = RegularizedEvolution(bits_space(), seed=1, population=4, sample_size=4)
    run(strategy, 4)
    members = {a for a, _ in strategy.population}
    child = strategy.ask()
    assert min(sum(child[k] != m[k] for k in child) for m in members) == 1


def test_failed_trials_never_join_the_population():
    strategy = RegularizedEvolution(bits_space(), seed=0, population=3, sample_size=2)
    strategy.tell(strategy.ask(), Result.failed("boom"))
    assert not strategy.population


def test_state_round_trip_continues_identically():
    a = RegularizedEvolution(bits_space(), seed=3, population=6, sample_size=3)
    run(a, 10)
    b = RegularizedEvolution(bits_space(), seed=99, population=6, sample_size=3)
    b.load_state_dict(a.state_dict())
    assert run(a, 15) == run(b, 15)


def test_skip_duplicates_avoids_repeats():
    space = bits_space(6)
    strategy = RegularizedEvolution(space, seed=0, population=5, sample_size=2,
                                    skip_duplicates=True)
    asked = run(strategy, 40)
    assert len({a.key() for a in asked}) == 40


def test_bad_sizes():
    with pytest.raises(ConfigError):
        RegularizedEvolution(bits_space(), population=5, sample_size=6)
