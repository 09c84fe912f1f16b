"""The class-per-folder image reader on tiny PNG / JPEG files written by the tests."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nasforge.data  # noqa: F401  (registers the tasks)
from nasforge.data.imagefolder import load_image
from nasforge.errors import DataError
from nasforge.registry import TASKS

CLASSES = ["cat", "dog", "eel"]


def write_images(folder: Path, per_class: int, seed: int = 0) -> None:
    """``per_class`` small RGB images per class (odd sizes, one greyscale, one JPEG)."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (10 + i, 12, 3), dtype=np.uint8)
            pixels[..., k] = 255  # the class shows in one colour channel
            image = Image.fromarray(pixels)
            if i == 0:
                image.convert("L").save(folder / name / f"{i}.png")
            elif i == 1:
                image.save(folder / name / f"{i}.jpg", quality=95)
            else:
                image.save(folder / name / f"{i}.png")
    (folder / CLASSES[0] / "notes.txt").write_text("not an image")


@pytest.fixture
def train_only(tmp_path: Path) -> Path:
    write_images(tmp_path / "train", per_class=10)
    return tmp_path


def test_reads_classes_and_splits_a_test_set(train_only):
    task = TASKS.build("imagefolder", root=str(train_only), size=8, seed=0)
    assert task.input_shape == (3, 8, 8) and task.num_classes == 3
    assert task.info["classes"] == CLASSES
    assert (len(task.train), len(task.valid), len(task.test)) == (19, 5, 6)  # 2 test a class
    assert not set(task.train.indices) & set(task.valid.indices)
    x, y = next(iter(task.loader("train", batch_size=4)))
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.long


def test_val_folder_is_the_test_set(train_only):
    write_images(train_only / "val", per_class=2, seed=1)
    task = TASKS.build("imagefolder", root=str(train_only), size=8)
    assert len(task.test) == 6 and len(task.train) + len(task.valid) == 30
    assert sorted(int(task.test[i][1]) for i in range(6)) == [0, 0, 1, 1, 2, 2]


def test_root_holding_the_class_folders(train_only):
    task = TASKS.build("imagefolder", root=str(train_only / "train"), size=8)
    assert task.num_classes == 3 and len(task.test) == 6


def test_lazy_and_cached_give_the_same_samples(train_only):
    eager = TASKS.build("imagefolder", root=str(train_only), size=6, cache=True)
    lazy = TASKS.build("imagefolder", root=str(train_only), size=6, cache=False)
    assert eager.train.indices == lazy.train.indices
    for split in ("train", "valid", "test"):
        a, b = getattr(eager, split)[2], getattr(lazy, split)[2]
        assert torch.allclose(a[0], b[0], atol=1e-5) and int(a[1]) == int(b[1])


def test_pixels_resized_rgb_and_class_colour_visible(train_only):
    image = load_image(train_only / "train" / "dog" / "3.png", 5)
    assert image.shape == (3, 5, 5) and image.dtype == torch.uint8
    assert int(image[1].min()) == 255  # green is the dog channel
    grey = load_image(train_only / "train" / "cat" / "0.png", 5)
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])


def test_seeded_split_and_augment(train_only):
    root = str(train_only)
    a, b, c = (TASKS.build("imagefolder", root=root, size=8, seed=s) for s in (0, 0, 1))
    assert a.train.indices == b.train.indices and a.train.indices != c.train.indices
    x = torch.stack([a.train[i][0] for i in range(4)])
    assert a.augment is not None
    out = a.augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.equal(out, a.augment(x, torch.Generator().manual_seed(0)))


def test_missing_or_empty_folders_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        TASKS.build("imagefolder", root=str(tmp_path / "nowhere"))
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        TASKS.build("imagefolder", root=str(tmp_path))
    (tmp_path / "train" / "cat").mkdir()
    with pytest.raises(DataError, match="no images") as info:
        TASKS.build("imagefolder", root=str(tmp_path))
    assert "\n" not in str(info.value)


def test_unknown_val_class_and_corrupt_image_are_data_errors(train_only):
    write_images(train_only / "val", per_class=1)
    (train_only / "val" / "fox").mkdir()
    with pytest.raises(DataError, match="fox"):
        TASKS.build("imagefolder", root=str(train_only))
    (train_only / "val" / "fox").rmdir()
    (train_only / "train" / "dog" / "5.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="5.png"):
        TASKS.build("imagefolder", root=str(train_only))


def test_too_few_images_to_hold_out_a_test_set(tmp_path):
    write_images(tmp_path / "train", per_class=1)
    with pytest.raises(DataError, match="too few"):
        TASKS.build("imagefolder", root=str(tmp_path))
