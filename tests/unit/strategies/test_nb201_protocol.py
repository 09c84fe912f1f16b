"""Algorithm check on the NB201 table under the NB201 paper's protocol (12-epoch signal,
12,000 simulated seconds): our baselines land on the paper's numbers."""

import numpy as np

from nasforge.config import Budget
from nasforge.evaluators.table import TableEvaluator
from nasforge.run.loop import run_search
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.evolution import RegularizedEvolution
from nasforge.strategies.random import RandomSearch

SEEDS = range(40)


def final_test_accuracies(nb201_table, make_strategy):
    space = NB201Space()
    out = []
    for seed in SEEDS:
        result = run_search(space, TableEvaluator(space, table=nb201_table),
                            make_strategy(space, seed), budget=Budget(seconds=12_000),
                            progress=False)
        out.append(result.best.result.metrics["test_acc"])
    return np.array(out)


def test_random_and_evolution_match_the_paper(nb201_table):
    rs = final_test_accuracies(nb201_table, lambda sp, s: RandomSearch(sp, seed=s))
    rea = final_test_accuracies(
        nb201_table, lambda sp, s: RegularizedEvolution(sp, seed=s, population=10, sample_size=3))
    assert abs(rs.mean() - 93.70) < 0.2  # paper: 93.70 +- 0.36
    assert abs(rea.mean() - 93.92) < 0.2  # paper: 93.92 +- 0.30
    assert rea.mean() > rs.mean()
