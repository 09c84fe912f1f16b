"""scikit-learn's 8x8 handwritten digits (the UCI optdigits test set), bundled with sklearn."""

from __future__ import annotations

import numpy as np
import torch

from nasforge.data.transforms import held_out_task
from nasforge.errors import DataError
from nasforge.registry import TASKS
from nasforge.task import Task


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as float32 images ``(n, 1, 8, 8)`` in [0, 1] and int64 labels, read
    from the file scikit-learn ships (no download)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits task needs scikit-learn: "
                        "pip install 'nasforge[data]'") from None
    data = load_digits()
    images = (np.asarray(data.images, dtype=np.float32) / 16.0)[:, None]  # (n, 1, 8, 8)
    return images, np.asarray(data.target, dtype=np.int64)


@TASKS.register("digits")
def digits_task(seed: int = 0, train_size: int | None = None, valid_fraction: float = 0.2,
                test_fraction: float = 0.2, batch_size: int = 128, data_seed: int = 0) -> Task:
    """Digits: 10 classes of 1x8x8 images. There is no official split, so a stratified
    ``test_fraction`` is held out from ``data_seed`` (the same test set for every search
    seed); the rest is cut into search-train / search-valid from ``seed``. Pixels are
    normalised with the mean and std of the training part."""
    images, labels = load_digits_arrays()
    return held_out_task("digits", torch.from_numpy(images), labels, num_classes=10, seed=seed,
                         data_seed=data_seed, test_fraction=test_fraction,
                         valid_fraction=valid_fraction, train_size=train_size,
                         batch_size=batch_size, raw_scale=1 / 16)
