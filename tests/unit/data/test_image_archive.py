"""CIFAR-10 from an archive or folder of per-class images: decoding, the cache, the NB201 split,
and one-line errors for bad input. Tiny archives are written by the tests themselves."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nasforge.data  # noqa: F401  (registers the tasks)
from nasforge.data import image_archive
from nasforge.data.cifar import stratified_search_split
from nasforge.errors import DataError
from nasforge.registry import TASKS

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
TRAIN_PER_CLASS, TEST_PER_CLASS = 4, 2
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cifar10"


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.transpose(1, 2, 0)).save(buffer, format="PNG")  # lossless
    return buffer.getvalue()


def make_images(seed: int = 0, classes: list[str] = CLASSES) -> dict[str, np.ndarray]:
    """``split/class/NNNN.png`` -> a random (3, 32, 32) uint8 image."""
    rng = np.random.default_rng(seed)
    return {f"{split}/{cls}/{i:04d}.png": rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)
            for split, n in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS))
            for cls in classes for i in range(n)}


def write_archive(path: Path, images: dict[str, np.ndarray]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, pixels in images.items():
            data = png(pixels)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_folder(root: Path, images: dict[str, np.ndarray]) -> Path:
    for name, pixels in images.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(png(pixels))
    return root


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    images = make_images()
    return write_archive(tmp_path / "cifar10-png.tar.gz", images), images


def expected(images: dict[str, np.ndarray], split: str) -> tuple[torch.Tensor, list[int]]:
    names = sorted(n for n in images if n.startswith(split + "/"))
    return (torch.from_numpy(np.stack([images[n] for n in names])),
            [CLASSES.index(n.split("/")[1]) for n in names])


def test_archive_round_trip_and_nb201_split(archive, tmp_path):
    path, images = archive
    task = TASKS.build("cifar10", root=str(path), cache=str(tmp_path / "cache"), augment=False)
    x_train, y_train = expected(images, "train")
    full = task.train.dataset
    assert torch.equal(full.images, x_train) and full.labels.tolist() == y_train
    assert torch.equal(task.test.dataset.images, expected(images, "test")[0])
    assert task.test.dataset.labels.tolist() == expected(images, "test")[1]
    assert sorted(task.test.indices) == list(range(len(task.test.dataset)))
    # stratified halves: every class equally in search-train and search-valid
    for subset in (task.train, task.valid):
        labels = full.labels[subset.indices]
        assert torch.bincount(labels, minlength=10).tolist() == [TRAIN_PER_CLASS // 2] * 10
    assert not set(task.train.indices) & set(task.valid.indices)
    assert task.input_shape == (3, 32, 32) and task.num_classes == 10


def test_splits_of_a_class_sorted_archive_come_mixed(archive, tmp_path):
    """The archive holds its images class by class; a loader that does not shuffle must
    still give batches of several classes (batch norm in train mode, capped measurements),
    while every split keeps exactly the members of NB201's stratified split."""
    path, _ = archive
    task = TASKS.build("cifar10", root=str(path), cache=str(tmp_path / "cache"), batch_size=8)
    labels = task.train.dataset.labels
    train, valid = stratified_search_split(labels.numpy(), seed=0, train_size=None,
                                           valid_fraction=0.5)
    assert sorted(task.train.indices) == train.tolist()
    assert sorted(task.valid.indices) == valid.tolist()
    for split in ("train", "valid", "test"):
        order = [int(y) for _, ys in task.loader(split) for y in ys]
        assert order != sorted(order), split  # not class by class
        assert len(set(order[:8])) >= 5, (split, order)  # two per class would give 4


def test_second_build_reads_the_cache(archive, tmp_path, monkeypatch):
    path, _ = archive
    cache = str(tmp_path / "cache")
    first = TASKS.build("cifar10", root=str(path), cache=cache)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although cached")

    monkeypatch.setattr(image_archive, "decode", no_decoding)
    second = TASKS.build("cifar10", root=str(path), cache=cache)
    assert torch.equal(first.train.dataset.images, second.train.dataset.images)


def test_cache_is_keyed_by_the_archive_checksum(tmp_path):
    cache = str(tmp_path / "cache")
    path = write_archive(tmp_path / "c.tar.gz", make_images(seed=0))
    a = TASKS.build("cifar10", root=str(path), cache=cache).train.dataset.images
    write_archive(path, make_images(seed=1))  # same name, new content
    b = TASKS.build("cifar10", root=str(path), cache=cache).train.dataset.images
    assert not torch.equal(a, b)
    assert torch.equal(b, expected(make_images(seed=1), "train")[0])


def test_unpacked_folder_equals_the_archive(archive, tmp_path):
    path, images = archive
    folder = write_folder(tmp_path / "unpacked", images)
    cache = str(tmp_path / "cache")
    a = TASKS.build("cifar10", root=str(path), cache=cache)
    b = TASKS.build("cifar10", root=str(folder), cache=cache)
    assert torch.equal(a.train.dataset.images, b.train.dataset.images)
    assert a.train.indices == b.train.indices


def test_sizes_and_downsampling(archive, tmp_path):
    path, _ = archive
    task = TASKS.build("cifar10", root=str(path), cache=str(tmp_path / "c"), size=16,
                       train_size=20, valid_fraction=0.5)
    assert task.input_shape == (3, 16, 16) and task.train[0][0].shape == (3, 16, 16)
    assert (len(task.train), len(task.valid)) == (10, 10)
    labels = task.train.dataset.labels
    assert torch.bincount(labels[task.train.indices], minlength=10).tolist() == [1] * 10


@pytest.mark.parametrize("damage, message", [
    ("corrupt", "not a readable image archive"),
    ("missing_class", "class folder(s) truck missing from test/"),
    ("no_test", "no images under test/<class>/"),
    ("nine_classes", "9 class folders, CIFAR-10 has 10"),
    ("bad_image", "is not a readable image"),
])
def test_bad_archives_are_one_line_data_errors(tmp_path, damage, message):
    images = make_images(classes=CLASSES[:9] if damage == "nine_classes" else CLASSES)
    if damage == "missing_class":
        images = {n: p for n, p in images.items() if not n.startswith("test/truck/")}
    if damage == "no_test":
        images = {n: p for n, p in images.items() if n.startswith("train/")}
    path = write_archive(tmp_path / "c.tar.gz", images)
    if damage == "corrupt":
        path.write_bytes(path.read_bytes()[:200])
    if damage == "bad_image":
        with tarfile.open(path, "r:gz") as src:
            members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
        with tarfile.open(path, "w:gz") as archive:
            for member, data in members:
                data = b"not an image" if member.name == "train/cat/0001.png" else data
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
    with pytest.raises(DataError) as info:
        TASKS.build("cifar10", root=str(path), cache=str(tmp_path / "cache"))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_file_that_is_no_archive_is_a_data_error(tmp_path):
    path = tmp_path / "images.zip"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match="not an image archive"):
        TASKS.build("cifar10", root=str(path))


@pytest.mark.skipif(not (SHARED / "cifar10-jpeg.tar.gz").is_file(),
                    reason="the shared CIFAR-10 archive is not next to the repository")
def test_the_shared_archive():
    """The real data: 50,000 + 10,000 images, 10 classes, NB201 halves (decodes once, ~12 s)."""
    task = TASKS.build("cifar10", root=str(SHARED / "cifar10-jpeg.tar.gz"), size=16)
    assert (len(task.train), len(task.valid), len(task.test)) == (25_000, 25_000, 10_000)
    assert task.input_shape == (3, 16, 16)
    counts = torch.bincount(task.train.dataset.labels[task.valid.indices], minlength=10)
    assert counts.tolist() == [2_500] * 10
    x, y = next(iter(task.loader("train", batch_size=256, shuffle=True)))
    assert x.shape == (256, 3, 16, 16) and abs(float(x.mean())) < 0.3
