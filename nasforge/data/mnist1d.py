"""MNIST-1D (Greydanus, 2020), generated offline and cached."""

from __future__ import annotations

import pickle

import numpy as np

from nasforge.data.base import cache_dir, tensor_task
from nasforge.registry import TASKS
from nasforge.task import Task


def generate_mnist1d(num_samples: int = 5000, seed: int = 42) -> dict[str, np.ndarray]:
    """The MNIST-1D arrays from ``mnist1d.data.make_dataset`` (no download: the package's
    ``get_dataset`` would fetch a file and write into the working directory), cached."""
    path = cache_dir() / f"mnist1d_{num_samples}_{seed}.pkl"
    if path.is_file():
        with path.open("rb") as handle:
            cached: dict[str, np.ndarray] = pickle.load(handle)
        return cached
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    data = make_dataset(args)
    arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(arrays, handle)
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return arrays


@TASKS.register("mnist1d")
def mnist1d_task(seed: int = 0, num_samples: int = 5000, train_size: int | None = None,
                 valid_fraction: float = 0.2, batch_size: int = 128,
                 data_seed: int = 42) -> Task:
    """MNIST-1D: 10 classes of length-40 sequences (1 channel). ``num_samples`` counts train
    and test together (80/20, the package's split)."""
    d = generate_mnist1d(num_samples, data_seed)
    x, x_test = (d[k].astype(np.float32)[:, None, :] for k in ("x", "x_test"))  # (n, 1, 40)
    return tensor_task("mnist1d", x, d["y"], x_test, d["y_test"], num_classes=10, seed=seed,
                       valid_fraction=valid_fraction, train_size=train_size,
                       batch_size=batch_size)
