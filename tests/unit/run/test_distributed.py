"""Two gloo processes train one tiny supernet data-parallel: identical replicas after a step."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from nasforge.data.base import tensor_task
from nasforge.errors import ConfigError
from nasforge.run.distributed import (
    DistContext,
    check_nproc,
    free_port,
    from_environment,
    set_environment,
)
from nasforge.spaces.nb201 import NB201Space
from nasforge.strategies.darts import DartsSearch
from nasforge.strategies.spos import SinglePathTraining
from nasforge.supernet import build_supernet
from nasforge.training import seeded


def tiny_task():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(160, 1, 16)).astype(np.float32)
    y = (x[:, 0, :4].sum(1) > 0).astype(np.int64)
    return tensor_task("tiny", x[:128], y[:128], x[128:], y[128:], num_classes=2, seed=0,
                       batch_size=16, valid_fraction=0.5)


def replica(rank: int, world: int, port: int, out: str, name: str) -> None:
    set_environment(rank, world, port)
    context = from_environment()
    space = NB201Space(C=4, N=1)
    task = tiny_task()
    with seeded(0):
        net = build_supernet(space, task.shape)
    strategy = (SinglePathTraining(space, epochs=1, lr=0.1, max_batches=2) if name == "spos"
                else DartsSearch(space, epochs=1, max_batches=2))
    strategy.set_distributed(context)
    strategy.setup(net, task, torch.device("cpu"))
    strategy.train_epoch(0)
    extra = {"alpha": strategy.alpha.detach()} if name == "darts" else {}
    torch.save({**net.state_dict(), **extra}, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize("name", ["spos", "darts"])
def test_two_gloo_replicas_hold_the_same_weights_after_training(tmp_path, name):
    mp.start_processes(replica, args=(2, free_port(), str(tmp_path), name), nprocs=2,
                       start_method="spawn")
    first, second = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert first.keys() == second.keys()
    for key in first:
        assert torch.allclose(first[key], second[key], atol=1e-6), key
    with seeded(0):
        initial = build_supernet(NB201Space(C=4, N=1), tiny_task().shape).state_dict()
    assert any(not torch.equal(initial[k], first[k]) for k in initial)  # they did train


def test_shards_are_disjoint_and_equal_in_length():
    batches = list(range(7))
    shards = [list(DistContext(rank, 3).shard(batches)) for rank in range(3)]
    assert shards == [[0, 3], [1, 4], [2, 5]]  # the incomplete last round is dropped


def test_too_many_processes_is_a_clear_error():
    with pytest.raises(ConfigError, match="more than this machine"):
        check_nproc(10_000, torch.device("cpu"))
