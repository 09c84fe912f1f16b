"""Your own data as a Task: arrays, tensors, Datasets, .npz files and folders."""

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from nasforge.data.arrays import describe, path_spec, task_argument, task_from
from nasforge.errors import DataError, NasforgeError
from nasforge.task import Task


def blobs(n: int = 120, features: int = 6, classes: int = 3, seed: int = 0
          ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, features)) * 5 + 10 + y[:, None]
    return x.astype(np.float32), y


def split_sizes(task: Task) -> tuple[int, int, int]:
    return len(task.train), len(task.valid), len(task.test)  # type: ignore[arg-type]


def test_a_table_becomes_standardised_one_channel_sequences() -> None:
    x, y = blobs()
    task = task_from(x, y)
    assert task.shape.input_shape == (1, 6) and task.num_classes == 3
    assert sum(split_sizes(task)) == 120 and min(split_sizes(task)) > 0
    train = torch.stack([task.train[i][0] for i in range(len(task.train))])  # type: ignore[arg-type]
    assert train.mean((0, 1)).abs().max() < 0.3  # per feature, from the training part
    assert "input (1, 6), 3 classes" in str(describe(task))  # what was derived, in a line


def test_the_preprocessing_maps_raw_samples_to_the_task_inputs() -> None:
    """A saved model applies ``task.preprocessing`` to raw data: it must give exactly the
    inputs the network was trained on, for tables and for 8-bit images."""
    x, y = blobs()
    images = np.random.default_rng(1).integers(0, 256, (60, 3, 4, 4), dtype=np.uint8)
    for raw, labels in ((x, y), (images, np.arange(60) % 2)):
        task = task_from(raw, labels, raw[:10], labels[:10], raw[10:20], labels[10:20],
                         )
        prepared = task.preparation(torch.as_tensor(raw[10:20]))
        stored = torch.stack([task.test[i][0] for i in range(10)])
        torch.testing.assert_close(prepared, stored)
        assert task.preparation.module()(torch.as_tensor(raw[10:20])).allclose(stored, atol=1e-5)


def test_given_splits_are_kept_and_only_missing_ones_are_cut() -> None:
    x, y = blobs()
    assert split_sizes(task_from(x, y, x[:30], y[:30], x[:20], y[:20])) \
        == (120, 30, 20)
    train, valid, test = split_sizes(task_from(x, y, x[:30], y[:30]))
    assert (valid, train + test) == (30, 120) and test == 24  # test held out of x only


def test_the_test_split_does_not_move_with_the_search_seed() -> None:
    x, y = blobs()
    tests = [torch.stack([t.test[i][0] for i in range(len(t.test))])  # type: ignore[arg-type]
             for t in (task_from(x, y, seed=s) for s in (0, 1))]
    torch.testing.assert_close(*tests)


def test_class_names_tensors_and_datasets() -> None:
    x, y = blobs()
    names = np.array(["cat", "dog", "ant"])[y]
    task = task_from(torch.from_numpy(x), names)
    assert task.preparation.classes == ("ant", "cat", "dog")
    from_dataset = task_argument(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), 0)
    assert isinstance(from_dataset, Task) and from_dataset.num_classes == 3
    grey = task_from(np.zeros((40, 5, 5)) + np.arange(40)[:, None, None], np.arange(40) % 2)
    assert grey.shape.input_shape == (1, 5, 5)


@pytest.mark.parametrize(("args", "message"), [
    ((np.zeros((10, 3)), np.zeros(9)), "10 samples but y has 9"),
    ((np.zeros(10), np.arange(10) % 2), "one sample per row"),
    ((np.full((10, 3), np.nan), np.arange(10) % 2), "NaN"),
    ((np.zeros((10, 3)), np.arange(10) % 2 + 0.5), "integers"),
    ((np.zeros((10, 3)), (np.arange(10) % 2) * 2), "no training samples of class 1"),
    ((np.zeros((10, 3)), np.zeros(10, dtype=int)), "single class"),
    ((np.zeros((10, 3)), -(np.arange(10) % 2)), "0..K-1"),
    ((np.array([["a", "b"]] * 10), np.arange(10) % 2), "numbers"),
    ((np.zeros((0, 3)), np.zeros(0)), "empty"),
    ((np.zeros((10, 3)), np.arange(10) % 2, np.zeros((4, 2)), np.arange(4) % 2), "shape"),
    ((np.zeros((10, 3)), np.arange(10) % 2, np.zeros((4, 3)), None), "go together"),
    ((np.zeros((4, 3)), np.arange(4) % 2), "too few samples"),
])
def test_bad_data_is_one_clear_error(args, message) -> None:
    with pytest.raises(DataError, match=message):
        task_from(*args)


def test_paths_become_specs_that_a_config_can_hold(tmp_path) -> None:
    x, y = blobs()
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    (tmp_path / "images" / "a").mkdir(parents=True)
    assert task_argument(str(tmp_path / "mine.npz"), 0) == {
        "name": "npz", "path": str(tmp_path / "mine.npz")}
    assert path_spec(tmp_path / "images") == {"name": "imagefolder",
                                              "root": str(tmp_path / "images")}
    assert task_argument("cifar10", 0) == "cifar10"  # a registered name stays a name
    for bad in (tmp_path / "nothing.npz", tmp_path / "mine.txt"):
        if bad.suffix == ".txt":
            bad.write_text("1,2")
        with pytest.raises(DataError):
            path_spec(bad)
    with pytest.raises(DataError, match="labels too"):
        task_argument(x, 0)
    with pytest.raises(DataError, match="3 items"):
        task_argument((x, y, x), 0)


def test_npz_files(tmp_path) -> None:
    from nasforge.data.arrays import npz_task

    x, y = blobs()
    np.savez(tmp_path / "d.npz", x=x, y=y, x_test=x[:12], y_test=y[:12],
             classes=np.array(["a", "b", "c"]))
    task = npz_task(str(tmp_path / "d.npz"))
    assert len(task.test) == 12 and task.preparation.classes == ("a", "b", "c")  # type: ignore[arg-type]
    np.savez(tmp_path / "bad.npz", features=x)
    with pytest.raises(DataError, match="needs arrays x and y"):
        npz_task(str(tmp_path / "bad.npz"))
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(NasforgeError, match="not a readable"):
        npz_task(str(tmp_path / "junk.npz"))
