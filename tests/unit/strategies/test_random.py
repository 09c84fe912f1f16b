"""Random search, with and without replacement."""

from __future__ import annotations

import pytest

from nasforge.architecture import Categorical
from nasforge.errors import ConfigError
from nasforge.spaces.base import FunctionSpace
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.random import RandomSearch

TINY = FunctionSpace([Categorical("a", ("x", "y", "z")), Categorical("b", ("u", "v"))])


def keys(strategy: RandomSearch, n: int) -> list[str]:
    return [strategy.ask().key() for _ in range(n)]


def test_plain_random_search_repeats_in_a_tiny_space():
    assert len(set(keys(RandomSearch(TINY, seed=0), 12))) < 12


def test_unique_asks_every_architecture_once_then_stops():
    strategy = RandomSearch(TINY, seed=0, unique=True, max_rejections=200)
    assert len(set(keys(strategy, 6))) == 6  # the whole space, no repeat
    with pytest.raises(ConfigError):
        strategy.ask()


def test_unique_nb201_counts_isomorphic_cells_once_and_resumes():
    space = NB201Space()
    strategy = RandomSearch(space, seed=3, unique=True)
    first = keys(strategy, 150)
    restored = RandomSearch(space, seed=3, unique=True)
    restored.load_state_dict(strategy.state_dict())
    later = keys(restored, 150)
    assert len(set(first + later)) == 300
    assert later == keys(strategy, 150)  # the same stream as an uninterrupted run
