"""Torch-only transforms and shared image plumbing (nasforge.data.transforms)."""

import pickle

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nasforge.data.transforms import (
    CropFlip,
    NormalizedImages,
    channel_stats,
    crop_flip,
    normalize,
    random_crop,
    random_hflip,
    resize_images,
    stratified_split,
)
from nasforge.errors import ConfigError


def batch(n: int = 16, c: int = 3, h: int = 6, w: int = 5) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(0))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_random_crop_keeps_shape_and_is_deterministic_for_a_generator():
    x = batch()
    a, b = random_crop(x, 2, gen(1)), random_crop(x, 2, gen(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, random_crop(x, 2, gen(2)))
    assert torch.equal(random_crop(x, 0, gen(1)), x)


def test_random_crop_is_a_window_of_the_padded_image():
    x, pad = batch(n=12), 2
    fill = (-1.0, 5.0, 9.0)
    out = random_crop(x, pad, gen(3), fill)
    padded = torch.stack([F.pad(x[:, c], (pad,) * 4, value=v) for c, v in enumerate(fill)], 1)
    shifted = 0
    for i in range(len(x)):
        windows = [(r, s) for r in range(2 * pad + 1) for s in range(2 * pad + 1)
                   if torch.equal(out[i], padded[i, :, r:r + 6, s:s + 5])]
        assert windows, f"image {i} is not a window of its padded input"
        shifted += windows[0] != (pad, pad)
    assert shifted > 0


def test_random_hflip_mirrors_some_images_and_leaves_the_rest():
    x = batch(n=64)
    out = random_hflip(x, gen(0))
    flipped = [torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)]
    kept = [torch.equal(o, xi) for o, xi in zip(out, x, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54
    assert torch.equal(out, random_hflip(x, gen(0)))


def test_crop_flip_is_deterministic_picklable_and_scales_padding():
    x = batch()
    aug = CropFlip(padding=2, fill=(0.5,))
    assert torch.equal(aug(x, gen(7)), aug(x, gen(7)))
    assert aug(x, gen(7)).shape == x.shape
    clone = pickle.loads(pickle.dumps(aug))
    assert torch.equal(clone(x, gen(7)), aug(x, gen(7)))
    mean, std = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.2, 0.1])
    assert crop_flip(32, mean, std).padding == 4 and crop_flip(16, mean, std).padding == 2
    assert crop_flip(32, mean, std).fill == pytest.approx((-2.5, -2.0, -3.0))


def test_channel_stats_and_normalize():
    images = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8, generator=gen(0))
    mean, std = channel_stats(images)
    ref = images.double().div(255).transpose(0, 1).reshape(3, -1)
    assert torch.allclose(mean.double(), ref.mean(1), atol=1e-6)
    assert torch.allclose(std.double(), ref.std(1, unbiased=False), atol=1e-6)
    x = normalize(images, mean, std)
    assert x.dtype == torch.float32
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)


def test_resize_images_average_pools_when_shrinking():
    x = torch.rand(5, 1, 28, 28, generator=gen(0))
    assert torch.allclose(resize_images(x, 14), F.avg_pool2d(x, 2), atol=1e-6)
    u8 = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=gen(1))
    small = resize_images(u8, 16)
    assert small.dtype == torch.uint8 and small.shape == (3, 3, 16, 16)
    assert resize_images(u8, 32) is u8
    assert resize_images(u8, 40).shape == (3, 3, 40, 40)


def test_stratified_split_holds_out_a_fraction_of_every_class():
    labels = np.repeat(np.arange(4), [10, 20, 30, 2])
    kept, held = stratified_split(labels, 0.2, seed=0)
    assert np.intersect1d(kept, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(labels)))
    assert np.bincount(labels[held], minlength=4).tolist() == [2, 4, 6, 0]
    again, _ = stratified_split(labels, 0.2, seed=0)
    other, _ = stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)
    with pytest.raises(ConfigError, match="test_fraction"):
        stratified_split(labels, 1.0, seed=0)


def test_normalized_images_batched_access_matches_single_access():
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8, generator=gen(0))
    data = NormalizedImages(images, torch.arange(10), torch.full((3,), 0.5), torch.ones(3))
    items = data.__getitems__([3, 1, 7])
    for (x, y), i in zip(items, [3, 1, 7], strict=True):
        assert torch.equal(x, data[i][0]) and int(y) == i
    assert len(data) == 10 and data[0][0].dtype == torch.float32
