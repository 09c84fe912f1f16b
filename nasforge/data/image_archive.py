"""Labelled images stored one file per image, ``train/<class>/*`` and ``test/<class>/*``, either
as a ``.tar.gz`` archive or as an unpacked folder (e.g. the shared CIFAR-10 JPEG copy). The
images are decoded once with Pillow and kept as ``uint8`` arrays in a cache directory keyed by
the source's checksum, so the second run starts in well under a second.

Layout::

    train/<class>/<image>   (the official training images)
    test/<class>/<image>    (the official test images)

Classes are the sorted folder names (for CIFAR-10 that is CIFAR's own label order); both splits
must hold the same classes, and every class at least one image.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from nasforge.data.base import cache_dir
from nasforge.data.imagefolder import SUFFIXES
from nasforge.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LAYOUT = "train/<class>/<image> and test/<class>/<image>"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class DecodedImages:
    """Both official splits as ``uint8`` arrays ``(n, 3, H, W)`` and int64 labels."""

    classes: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def is_split_folder(path: Path) -> bool:
    return path.is_dir() and all((path / split).is_dir() for split in SPLITS)


def load_images(source: Path, *, side: int, cache: str | Path | None = None) -> DecodedImages:
    """The decoded images of an archive or split folder, from the cache when it has them."""
    key = fingerprint(source)
    folder = Path(cache) if cache is not None else cache_dir() / "images"
    entry = folder / f"{source.name}-{side}-{key[:16]}"
    if (entry / "meta.json").is_file():
        try:
            return read_cache(entry)
        except (OSError, ValueError, KeyError) as exc:  # a broken cache is rebuilt, not fatal
            log.warning("ignoring the unreadable cache %s (%s)", entry, exc)
    decoded = decode(source, side)
    write_cache(entry, decoded)
    return decoded


def fingerprint(source: Path) -> str:
    """sha256 of an archive's bytes; of the file names, sizes and times of a folder."""
    digest = hashlib.sha256()
    if source.is_file():
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for path in sorted(source.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}\n"
                          .encode())
    return digest.hexdigest()


def decode(source: Path, side: int) -> DecodedImages:
    """Decode every image of ``source`` (archive or folder) into arrays."""
    log.info("decoding %s (once; cached afterwards)", source)
    files = dict(archive_files(source) if source.is_file() else folder_files(source))
    by_split = {split: sorted(name for name in files if name.parts[0] == split)
                for split in SPLITS}
    classes = class_names(source, by_split)
    index = {name: i for i, name in enumerate(classes)}
    arrays: list[np.ndarray] = []
    for split in SPLITS:
        names = by_split[split]
        arrays.append(np.stack([decode_one(source, name, files[name], side) for name in names]))
        arrays.append(np.asarray([index[name.parts[1]] for name in names], dtype=np.int64))
    return DecodedImages(tuple(classes), *arrays)


def class_names(source: Path, by_split: dict[str, list[PurePosixPath]]) -> list[str]:
    """The sorted class names, the same in both splits, each with at least one image."""
    found = {split: sorted({name.parts[1] for name in names})
             for split, names in by_split.items()}
    for split in SPLITS:
        if not found[split]:
            raise DataError(f"{source}: no images under {split}/<class>/; expected {LAYOUT}")
    missing = set(found["train"]) ^ set(found["test"])
    if missing:
        raise DataError(f"{source}: class folder(s) {', '.join(sorted(missing))} missing from "
                        f"{'test' if set(found['train']) - set(found['test']) else 'train'}/; "
                        f"both splits need the same classes")
    return found["train"]


def image_name(name: PurePosixPath) -> bool:
    """``split/class/file`` with an image suffix (no deeper nesting, no hidden files)."""
    return (len(name.parts) == 3 and name.parts[0] in SPLITS
            and not name.name.startswith(".") and name.suffix.lower() in SUFFIXES)


def archive_files(source: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    """(``split/class/file``, bytes) of every image in a tar archive."""
    try:
        with tarfile.open(source, "r:*") as archive:
            for member in archive:
                name = PurePosixPath(member.name.lstrip("./"))
                if member.isfile() and image_name(name):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield name, handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{source}: not a readable image archive ({type(exc).__name__}: "
                        f"{exc}); expected a .tar.gz of {LAYOUT}") from None


def folder_files(source: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    """(``split/class/file``, bytes) of every image in an unpacked folder."""
    for split in SPLITS:
        for path in sorted((source / split).glob("*/*")):
            name = PurePosixPath(path.relative_to(source).as_posix())
            if path.is_file() and image_name(name):
                yield name, path.read_bytes()


def decode_one(source: Path, name: PurePosixPath, data: bytes, side: int) -> np.ndarray:
    """One image as RGB ``uint8`` ``(3, side, side)``; a different size is resized (bilinear)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
            if rgb.size != (side, side):
                rgb = rgb.resize((side, side), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"{source}: {name} is not a readable image ({exc})") from None


def write_cache(entry: Path, decoded: DecodedImages) -> None:
    """Write the arrays atomically: into a temporary folder, then renamed into place."""
    tmp = entry.with_name(f"{entry.name}.tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for field in ("x_train", "y_train", "x_test", "y_test"):
            np.save(tmp / f"{field}.npy", getattr(decoded, field))
        (tmp / "meta.json").write_text(json.dumps({"classes": list(decoded.classes)}))
        os.replace(tmp, entry)
    except OSError as exc:  # a read-only cache only costs the next run a decode
        if not (entry / "meta.json").is_file():
            log.warning("could not cache decoded images in %s (%s)", entry, exc)
    finally:  # another process may have cached the same images first
        shutil.rmtree(tmp, ignore_errors=True)


def read_cache(entry: Path) -> DecodedImages:
    meta = json.loads((entry / "meta.json").read_text())
    arrays = [np.load(entry / f"{field}.npy") for field in ("x_train", "y_train", "x_test",
                                                              "y_test")]
    return DecodedImages(tuple(meta["classes"]), *arrays)
