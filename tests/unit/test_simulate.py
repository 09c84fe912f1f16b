from nasforge.architecture import Architecture, Categorical
from nasforge.config import Budget
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.run import run_search
from nasforge.simulate import SimulatedExecutor
from nasforge.spaces.base import FunctionSpace
from nasforge.strategies.base import AskTellStrategy

# A hand-made table: architecture -> (score, training seconds).
TABLE = {0: (10.0, 5.0), 1: (20.0, 1.0), 2: (30.0, 3.0), 3: (40.0, 2.0), 4: (50.0, 4.0),
         5: (60.0, 1.0)}


class InOrder(AskTellStrategy):
    """Asks 0, 1, 2, ... and remembers the order it was told in."""

    def __init__(self, space):
        super().__init__(space)
        self.next, self.told = 0, []

    def ask(self):
        arch = Architecture({"x": self.next})
        self.next += 1
        return arch

    def tell(self, arch, result):
        self.told.append((arch["x"], result.metrics["sim_time"]))


def run(synchronous):
    space = FunctionSpace([Categorical("x", list(TABLE))])
    evaluator = FunctionEvaluator(lambda a: {"valid_acc": TABLE[a["x"]][0],
                                             "cost": TABLE[a["x"]][1]})
    strategy = InOrder(space)
    run_search(space, evaluator, strategy, budget=Budget(trials=6),
               executor=SimulatedExecutor(workers=2, synchronous=synchronous))
    return strategy.told


def test_asynchronous_events_come_in_simulated_time_order():
    # worker A: 0 (0-5); worker B: 1 (0-1), 2 (1-4), 3 (4-6); A: 4 (5-9); B: 5 (6-7)
    assert run(False) == [(1, 1.0), (2, 4.0), (0, 5.0), (3, 6.0), (5, 7.0), (4, 9.0)]


def test_synchronous_rounds_wait_for_the_slowest():
    # rounds: {0, 1} end at 5; {2, 3} at 5+3=8; {4, 5} at 8+4=12
    assert run(True) == [(1, 1.0), (0, 5.0), (3, 7.0), (2, 8.0), (5, 9.0), (4, 12.0)]

