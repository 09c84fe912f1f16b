from nasforge.architecture import Architecture, Categorical
from nasforge.config import Budget
from nasforge.evaluators.function import FunctionEvaluator
from nasforge.run.loop import run_search
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



def test_a_seconds_budget_is_the_simulated_clusters_wall_clock():
    """512 workers, 12,000 s: trials keep starting until the simulated clock reaches 12,000 s
    (before, the budget counted the summed cost, which 512 parallel trials spend in the first
    simulated hour, so the cluster stopped at 3,000 s), none starts at or after it, and the
    ones in flight then finish and are kept (the clock ends within one evaluation past it)."""
    from nasforge.spaces.nb201 import NB201Space
    from nasforge.strategies.random import RandomSearch

    space = NB201Space()

    def score(arch):  # 3,000 to 9,000 simulated seconds, finishing on whole thousands
        return {"valid_acc": 1.0,
                "cost": 3000.0 + 1000.0 * sum(op == "nor_conv_3x3" for op in arch.values())}

    result = run_search(space, FunctionEvaluator(score), RandomSearch(space, seed=0),
                        budget=Budget(seconds=12_000),
                        executor=SimulatedExecutor(workers=512))
    ends = [t.result.metrics["sim_time"] for t in result.trials]
    starts = [end - t.result.cost for end, t in zip(ends, result.trials, strict=True)]
    assert 11_000 <= max(starts) < 12_000 <= max(ends) <= 12_000 + 9_000
    assert all(t.status == "ok" for t in result.trials)  # in-flight trials were kept


def test_resume_continues_the_simulated_clock(tmp_path):
    """A resumed run goes on from the simulated second it stopped at (the budget is not
    started again from zero)."""
    space = FunctionSpace([Categorical("x", list(range(40)))])
    evaluator = FunctionEvaluator(lambda a: {"valid_acc": float(a["x"]), "cost": 10.0})

    def search(seconds, resume):
        return run_search(space, evaluator, InOrder(space), budget=Budget(seconds=seconds),
                          run_dir=tmp_path / "run", resume=resume,
                          executor=SimulatedExecutor(workers=2))

    first = search(30, False)
    assert max(t.result.metrics["sim_time"] for t in first.trials) == 30.0
    resumed = search(60, True)
    later = [t.result.metrics["sim_time"] for t in resumed.trials[len(first.trials):]]
    assert later and min(later) == 40.0 and max(later) == 60.0
