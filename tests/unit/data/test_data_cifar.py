"""CIFAR-10 / CIFAR-100 readers on tiny data sets written in the official pickle format."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import nasforge.data  # noqa: F401  (registers the tasks)
from nasforge.data.cifar import CIFAR_URL
from nasforge.errors import DataError
from nasforge.registry import TASKS

PER_BATCH, N_TEST = 12, 10


def write_batch(path: Path, data: np.ndarray, labels: dict[bytes, list[int]]) -> None:
    """One batch as the official archives store it: a protocol-2 pickled dict, bytes keys,
    ``data`` an (n, 3072) uint8 array (1024 red, 1024 green, 1024 blue, row-major)."""
    batch = {b"batch_label": path.name.encode(), b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(len(data))], **labels}
    with path.open("wb") as handle:
        pickle.dump(batch, handle, protocol=2)


def make_cifar(root: Path, version: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tiny CIFAR-10 (5 x 12 train, 10 test) or CIFAR-100 (60 train, 10 test) under root;
    returns the written training images (n, 3, 32, 32) and labels."""
    rng = np.random.default_rng(seed)
    folder = root / ("cifar-10-batches-py" if version == 10 else "cifar-100-python")
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] if version == 10 else ["train"]
    sizes = [PER_BATCH] * 5 if version == 10 else [5 * PER_BATCH]
    images, labels = [], []
    for name, n in [*zip(names, sizes, strict=True), ("test_batch" if version == 10 else "test",
                                                       N_TEST)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = rng.integers(0, version, n).tolist()
        keys = {b"labels": fine} if version == 10 else {b"fine_labels": fine,
                                                        b"coarse_labels": [f // 5 for f in fine]}
        write_batch(folder / name, data, keys)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(fine)
    return np.concatenate(images[:-1]), np.concatenate(labels[:-1])


@pytest.fixture
def cifar10(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    return tmp_path, *make_cifar(tmp_path, 10)


@pytest.mark.parametrize("version", [10, 100])
def test_pickle_round_trip(tmp_path, version):
    x, y = make_cifar(tmp_path, version)
    task = TASKS.build(f"cifar{version}", root=str(tmp_path), seed=0)
    assert task.input_shape == (3, 32, 32) and task.num_classes == version
    full = task.train.dataset  # the whole official training set, uint8 in memory
    assert torch.equal(full.images, torch.from_numpy(x)) and full.labels.tolist() == y.tolist()
    if version == 10:  # NB201's split: stratified halves (per class, rounded)
        n_valid = sum(min(n - 1, round(n * 0.5)) for n in np.bincount(y) if n)
        assert (len(task.train), len(task.valid)) == (60 - n_valid, n_valid)
    else:
        assert (len(task.train), len(task.valid)) == (48, 12)
    assert len(task.test) == N_TEST
    assert not set(task.train.indices) & set(task.valid.indices)
    assert sorted(task.train.indices + task.valid.indices) == list(range(60))
    # normalised per channel with the training set's statistics
    xs = torch.stack([full[i][0] for i in range(len(full))])
    assert torch.allclose(xs.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(xs.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)
    assert task.test[0][0].dtype == torch.float32


def test_cifar100_coarse_labels(tmp_path):
    _, y = make_cifar(tmp_path, 100)
    task = TASKS.build("cifar100", root=str(tmp_path), labels="coarse")
    assert task.num_classes == 20
    assert task.train.dataset.labels.tolist() == (y // 5).tolist()


def test_root_may_be_the_batches_folder_itself(cifar10):
    root, x, _ = cifar10
    task = TASKS.build("cifar10", root=str(root / "cifar-10-batches-py"))
    assert torch.equal(task.train.dataset.images, torch.from_numpy(x))


def test_search_split_is_seeded_and_test_held_out(cifar10):
    root = str(cifar10[0])
    a, b, c = (TASKS.build("cifar10", root=root, seed=s) for s in (0, 0, 1))
    assert a.train.indices == b.train.indices and a.train.indices != c.train.indices
    assert torch.equal(a.test.dataset.images, c.test.dataset.images)
    assert a.test.indices == c.test.indices  # one fixed order of the test set for every seed
    small = TASKS.build("cifar10", root=root, train_size=20, valid_fraction=0.25)
    per_class = np.bincount(cifar10[2])  # a stratified subset of 20 of the 60: per class rounded
    kept = sum(n - min(n - 1, round(n * (1 - 20 / 60))) for n in per_class if n)
    assert len(small.train) + len(small.valid) == kept


def test_augment_keeps_shape_and_is_deterministic(cifar10):
    task = TASKS.build("cifar10", root=str(cifar10[0]), batch_size=16)
    x, y = next(iter(task.loader("train", shuffle=True)))
    assert x.shape == (16, 3, 32, 32) and y.shape == (16,)
    assert task.augment is not None
    out = task.augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(out, task.augment(x, torch.Generator().manual_seed(0)))
    assert TASKS.build("cifar10", root=str(cifar10[0]), augment=False).augment is None


def test_downsampled(cifar10):
    task = TASKS.build("cifar10", root=str(cifar10[0]), size=16)
    assert task.input_shape == (3, 16, 16) and task.train[0][0].shape == (3, 16, 16)
    assert task.augment is not None and task.augment.padding == 2


@pytest.mark.parametrize("name, title", [("cifar10", "CIFAR-10"), ("cifar100", "CIFAR-100")])
def test_missing_data_is_a_one_line_data_error(tmp_path, name, title):
    with pytest.raises(DataError) as info:
        TASKS.build(name, root=str(tmp_path / "nowhere"))
    message = str(info.value)
    assert "\n" not in message and CIFAR_URL in message and "nowhere" in message
    assert message.startswith(f"{title} not found")


def test_default_root_comes_from_the_environment(cifar10, monkeypatch):
    monkeypatch.setenv("NASFORGE_DATA", str(cifar10[0]))
    assert len(TASKS.build("cifar10").test) == N_TEST


def test_corrupt_batch_is_a_data_error(cifar10):
    folder = cifar10[0] / "cifar-10-batches-py"
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3"):
        TASKS.build("cifar10", root=str(cifar10[0]))


def test_labels_out_of_range_are_a_data_error(tmp_path):
    make_cifar(tmp_path, 100)  # fine labels up to 99 are not CIFAR-10 labels
    folder = tmp_path / "cifar-100-python"
    with (folder / "train").open("rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    batch[b"labels"] = batch.pop(b"fine_labels")
    ten = tmp_path / "ten" / "cifar-10-batches-py"
    ten.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_batch(ten / name, batch[b"data"], {b"labels": batch[b"labels"]})
    with pytest.raises(DataError, match="classes"):
        TASKS.build("cifar10", root=str(tmp_path / "ten"))

