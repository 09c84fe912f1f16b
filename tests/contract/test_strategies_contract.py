"""Every registered ask/tell strategy, on every registered space: asks valid architectures,
is reproducible from a seed, and continues identically after a state_dict round trip."""

import pytest

import nasforge.spaces  # noqa: F401
import nasforge.strategies  # noqa: F401
from nasforge.evaluators.base import Result
from nasforge.registry import SPACES, STRATEGIES
from nasforge.strategies.base import AskTellStrategy

# Small settings so a few dozen steps exercise every phase of each strategy.
OPTIONS = {"random": {}, "controller": {"batch": 4, "hidden": 8},
           "evolution": {"population": 5, "sample_size": 3},
           "spos_evolution": {"population": 6, "generations": 10, "top_k": 3, "mutation": 2,
                              "crossover": 2}}
ASK_TELL = [n for n in STRATEGIES.names() if issubclass(STRATEGIES.get(n), AskTellStrategy)]


def test_every_strategy_has_a_contract_entry():
    assert set(ASK_TELL) <= set(OPTIONS)


def reward(arch) -> Result:
    text = str(sorted(arch.items()))
    return Result(metrics={"valid_acc": float(sum(map(ord, text)) % 97)})


def drive(strategy, steps):
    asked = []
    for _ in range(steps):
        arch = strategy.ask()
        strategy.tell(arch, reward(arch))
        asked.append(arch)
    return asked


@pytest.fixture(params=[(s, sp) for s in ASK_TELL for sp in SPACES.names()],
                ids=lambda p: f"{p[0]}-{p[1]}")
def make(request):
    name, space_name = request.param
    space = SPACES.build(space_name)
    return lambda seed: STRATEGIES.build(name, space=space, seed=seed, **OPTIONS[name])


def test_asks_valid_architectures(make):
    strategy = make(0)
    assert all(strategy.space.contains(a) for a in drive(strategy, 20))


def test_same_seed_same_sequence(make):
    assert drive(make(3), 20) == drive(make(3), 20)
    assert drive(make(3), 20) != drive(make(4), 20)


def test_state_dict_round_trip(make):
    first = make(1)
    drive(first, 12)
    second = make(2)
    second.load_state_dict(first.state_dict())
    assert drive(first, 10) == drive(second, 10)


def test_failed_results_are_accepted(make):
    strategy = make(0)
    for _ in range(8):
        strategy.tell(strategy.ask(), Result.failed("boom"))
    assert strategy.space.contains(strategy.ask())
