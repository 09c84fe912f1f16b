"""Your own data as a Task: numpy arrays, torch tensors, a torch Dataset or a ``.npz`` file.

The shape, the classes, the normalisation and the split are derived from the data (and
printed), so ``nasforge.search(..., task=(X, y))`` needs nothing else:

- ``X`` holds one sample per row: ``(n, features)`` (a table: each row becomes a 1-channel
  sequence ``(1, features)``, standardised per feature), ``(n, H, W)`` (grey images) or
  ``(n, C, H, W)`` / ``(n, C, L)`` (channels first, normalised per channel). ``uint8`` images
  are first scaled to [0, 1].
- ``y`` holds integer labels ``0..K-1`` (every class present in the training part) or class
  names (strings, numbered in sorted order).
- Splits: a stratified ``test_fraction`` is held out (from ``data_seed``, the same for every
  search seed) unless a test set is given; the rest is cut into search-train and search-valid
  (from ``seed``, stratified) unless a validation set is given. Statistics come from the
  training part only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from nasforge.data.transforms import check_positive, stratified_split
from nasforge.errors import DataError
from nasforge.preprocessing import Preprocessing
from nasforge.registry import TASKS
from nasforge.task import Shape, Task

NPZ_KEYS = ("x", "y", "x_valid", "y_valid", "x_test", "y_test")


@dataclass(frozen=True)
class Labelled:
    """One split as arrays: samples ``x`` and integer labels ``y``."""

    x: np.ndarray
    y: np.ndarray


def as_array(value: Any, what: str) -> np.ndarray:
    """A numpy array from an array, a tensor or nested lists."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what}: not an array ({exc})") from None


def check_samples(x: np.ndarray, what: str) -> None:
    """Numbers, one sample per row, no NaN or infinity."""
    if x.ndim < 2:
        raise DataError(f"{what} must hold one sample per row, (n, features) or "
                        f"(n, C, H, W); got shape {x.shape}")
    if len(x) == 0:
        raise DataError(f"{what} is empty")
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{what} must hold numbers, got dtype {x.dtype}")
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.dtype.kind in "fc" else None
    if bad is not None and bad.any():
        raise DataError(f"{what} holds NaN or infinite values (sample {int(np.argmax(bad))} "
                        f"and {int(bad.sum()) - 1} more)")


def label_names(labels: Sequence[np.ndarray], classes: Sequence[str] | None
                ) -> tuple[list[np.ndarray], tuple[str, ...] | None]:
    """Integer labels for every split, and the class names (sorted names for string labels,
    ``classes`` as given for integer labels)."""
    kinds = {y.dtype.kind for y in labels}
    if kinds & {"U", "S", "O"}:
        names = sorted({str(v) for y in labels for v in y.tolist()})
        index = {name: i for i, name in enumerate(names)}
        return [np.asarray([index[str(v)] for v in y.tolist()], np.int64) for y in labels], \
            tuple(names)
    return [integer_labels(y) for y in labels], None if classes is None else tuple(classes)


def integer_labels(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            bad = y[~np.isfinite(y) | (y != np.round(y))][0]
            raise DataError(f"labels must be integers 0..K-1 or class names; got {float(bad)}")
    elif y.dtype.kind not in "iub":
        raise DataError(f"labels must be integers 0..K-1 or class names, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise DataError(f"labels must be integers 0..K-1, got {int(y.min())}")
    return y.astype(np.int64)


def check_classes(train_y: np.ndarray, num_classes: int, classes: tuple[str, ...] | None
                  ) -> None:
    if classes is not None and len(classes) < num_classes:
        raise DataError(f"{len(classes)} class names for labels up to {num_classes - 1}")
    counts = np.bincount(train_y, minlength=num_classes)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        names = [classes[i] if classes else str(i) for i in empty[:5]]
        raise DataError(f"no training samples of class {', '.join(names)} "
                        f"({len(empty)} of {num_classes} classes empty); labels must be "
                        "0..K-1 with every class present")
    if num_classes < 2:
        raise DataError("the labels hold a single class: nothing to classify")


def input_shape(x: np.ndarray) -> tuple[int, ...]:
    """The network's input for raw samples ``x[0]``: tables become 1-channel sequences,
    grey images get their channel axis."""
    return (1, *x.shape[1:]) if x.ndim in (2, 3) else tuple(x.shape[1:])


def preparation(train_x: np.ndarray, classes: tuple[str, ...] | None) -> Preprocessing:
    """Per-feature standardisation for tables, per-channel for images (8-bit scaled to
    [0, 1] first), from the training part only; a constant feature keeps std 1."""
    shape = input_shape(train_x)
    scale = 1 / 255 if train_x.dtype == np.uint8 and train_x.ndim >= 3 else 1.0
    x = train_x.reshape(len(train_x), *shape).astype(np.float64) * scale
    axes = (0,) if train_x.ndim == 2 else (0, *range(2, x.ndim))
    mean, std = x.mean(axis=axes, keepdims=True)[0], x.std(axis=axes, keepdims=True)[0]
    std = np.where(std > 1e-12, std, 1.0)
    image_size = shape[-1] if len(shape) == 3 and shape[-1] == shape[-2] else None
    return Preprocessing(shape, scale=scale, mean=mean.tolist(), std=std.tolist(),
                         image_size=image_size, classes=classes)


def split_off(part: Labelled, fraction: float, seed: int, key: str) -> tuple[Labelled, Labelled]:
    kept, held = stratified_split(part.y, fraction, seed, key=key)
    if len(held) == 0:
        raise DataError(f"too few samples per class to hold out {key.split('.')[-1]}={fraction}"
                        "; give more samples or the split yourself")
    return Labelled(part.x[kept], part.y[kept]), Labelled(part.x[held], part.y[held])


def tensors(part: Labelled, prepare: Preprocessing) -> TensorDataset:
    with torch.no_grad():
        x = prepare(torch.from_numpy(np.ascontiguousarray(part.x)).float())
    return TensorDataset(x.float(), torch.from_numpy(part.y))


def task_from(x: Any, y: Any, x_valid: Any = None, y_valid: Any = None, x_test: Any = None,
              y_test: Any = None, *, name: str = "arrays", classes: Sequence[str] | None = None,
              seed: int = 0, data_seed: int = 0, valid_fraction: float = 0.2,
              test_fraction: float = 0.2, batch_size: int = 128) -> Task:
    """A Task from your arrays (numpy arrays, torch tensors or nested lists); see the module
    docstring for how shape, classes, normalisation and splits are derived. ``classes`` names
    integer labels. ``describe(task)`` says in one line what was derived (``nasforge
    search`` and ``nasforge.search`` print it)."""
    check_positive("task.batch_size", batch_size)
    given = {"x": x, "y": y, "x_valid": x_valid, "y_valid": y_valid, "x_test": x_test,
             "y_test": y_test}
    parts = pairs(given)
    ys, names = label_names([p.y for p in parts.values()], classes)
    parts = {k: Labelled(p.x, labels) for (k, p), labels in zip(parts.items(), ys, strict=True)}
    test_given = "test" in parts
    if not test_given:
        parts["train"], parts["test"] = split_off(parts["train"], test_fraction, data_seed,
                                                  "task.test_fraction")
    prepare_from = parts["train"]  # statistics: every sample that is not test
    valid_given = "valid" in parts
    if not valid_given:
        parts["train"], parts["valid"] = split_off(parts["train"], valid_fraction, seed,
                                                   "task.valid_fraction")
    num_classes = int(max(int(p.y.max()) for p in parts.values())) + 1
    check_classes(parts["train"].y, num_classes, names)
    prepare = preparation(prepare_from.x, names)
    task = Task(name, tensors(parts["train"], prepare), tensors(parts["valid"], prepare),
                tensors(parts["test"], prepare), Shape(prepare.input_shape, num_classes),
                batch_size=batch_size, preprocessing=prepare,
                info={"train": len(parts["train"].y), "valid": len(parts["valid"].y),
                      "test": len(parts["test"].y), "valid_given": valid_given,
                      "test_given": test_given,
                      "normalised": "per feature" if prepare_from.x.ndim == 2 else "per channel",
                      "derived": True,
                      "classes": list(names) if names else list(range(num_classes))})
    return task


def pairs(given: dict[str, Any]) -> dict[str, Labelled]:
    """The given (x, y) pairs by split, checked: both halves of a pair, equal lengths, the
    same sample shape as the training samples."""
    parts: dict[str, Labelled] = {}
    for split, suffix in (("train", ""), ("valid", "_valid"), ("test", "_test")):
        x, y = given["x" + suffix], given["y" + suffix]
        if x is None and y is None:
            continue
        if x is None or y is None:
            raise DataError(f"x{suffix} and y{suffix} go together: give both or neither")
        xa, ya = as_array(x, "x" + suffix), as_array(y, "y" + suffix).reshape(-1)
        check_samples(xa, "x" + suffix)
        if len(xa) != len(ya):
            raise DataError(f"x{suffix} has {len(xa)} samples but y{suffix} has {len(ya)} "
                            "labels")
        if parts and xa.shape[1:] != parts["train"].x.shape[1:]:
            raise DataError(f"x{suffix} samples have shape {xa.shape[1:]}, the training "
                            f"samples {parts['train'].x.shape[1:]}")
        parts[split] = Labelled(xa, ya)
    return parts


def describe(task: Task) -> str | None:
    """One line that says what was derived from the user's data (shape, classes, splits,
    normalisation); None for a built-in task, whose page documents it."""
    if not task.info.get("derived"):
        return None
    prep, info = task.preparation, task.info
    split = (f"{info.get('train')} train / {info.get('valid')} valid / {info.get('test')} "
             f"test")
    held = [] if info.get("test_given") else ["test held out"]
    held += [] if info.get("valid_given") else ["valid split off"]
    classes = prep.classes or ()
    names = f" ({', '.join(classes[:6])}{', ...' if len(classes) > 6 else ''})" if classes \
        else ""
    how = info.get("normalised", "per channel")
    mean = np.asarray(prep.mean, dtype=float)
    std = np.asarray(prep.std, dtype=float)
    return (f"task {task.name}: {split}{' (' + ', '.join(held) + ', stratified)' if held else ''}"
            f"; input {prep.input_shape}, {task.num_classes} classes{names}; normalised "
            f"{how} (mean {mean.mean():.3g}, std {std.mean():.3g}"
            f"{', 8-bit scaled to [0, 1]' if prep.scale != 1 else ''})")


def dataset_arrays(data: Dataset, what: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    """A torch Dataset of ``(sample, label)`` pairs read once into arrays."""
    try:
        length = len(data)  # type: ignore[arg-type]
    except TypeError:
        raise DataError(f"{what}: a Dataset with a length is needed") from None
    if length == 0:
        raise DataError(f"{what} is empty")
    xs, ys = [], []
    for batch in DataLoader(data, batch_size=512):
        if not isinstance(batch, (list, tuple)) or len(batch) != 2:
            raise DataError(f"{what} must yield (sample, label) pairs")
        xs.append(as_array(batch[0], what))
        ys.append(as_array(batch[1], what + " labels"))
    return np.concatenate(xs), np.concatenate(ys)


def read_npz(path: str | Path) -> dict[str, Any]:
    """The arrays of a ``.npz`` file: ``x`` and ``y``, optionally ``x_valid``, ``y_valid``,
    ``x_test``, ``y_test`` and ``classes`` (names of integer labels)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"{file}: no such file (a .npz with arrays x and y)")
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: not a readable .npz file ({exc})") from None
    unknown = sorted(set(arrays) - {*NPZ_KEYS, "classes"})
    if "x" not in arrays or "y" not in arrays or unknown:
        raise DataError(f"{file}: needs arrays x and y (optionally x_valid, y_valid, x_test, "
                        f"y_test, classes); found {', '.join(sorted(arrays)) or 'none'}")
    return arrays


@TASKS.register("npz")
def npz_task(path: str, seed: int = 0, data_seed: int = 0, valid_fraction: float = 0.2,
             test_fraction: float = 0.2, batch_size: int = 128) -> Task:
    """Your arrays from a ``.npz`` file (``np.savez(path, x=X, y=y)``; optionally
    ``x_valid``/``y_valid``, ``x_test``/``y_test`` and ``classes``), as ``task_from``."""
    arrays = read_npz(path)
    classes = arrays.pop("classes", None)
    return task_from(arrays["x"], arrays["y"], arrays.get("x_valid"), arrays.get("y_valid"),
                     arrays.get("x_test"), arrays.get("y_test"), name="npz", seed=seed,
                     classes=None if classes is None else [str(c) for c in classes.tolist()],
                     data_seed=data_seed, valid_fraction=valid_fraction,
                     test_fraction=test_fraction, batch_size=batch_size)



# what nasforge.search(task=...) and nasforge.train(task=...) take
TaskArgument = (Task | str | Path | Mapping[str, Any] | tuple[Any, ...] | list[Any] | Dataset
                | None)


def task_argument(value: Any, seed: int) -> Any:
    """What ``nasforge.search(task=...)`` was given, as a task spec or a Task: a name or spec
    stays; a path to a folder or ``.npz`` file becomes a spec (so the run's config records it
    and ``nasforge train`` can read it again); arrays and Datasets become a Task."""
    if isinstance(value, (str, Path)) and (isinstance(value, Path) or value not in TASKS):
        return path_spec(Path(value))
    if isinstance(value, (tuple, list)):
        if len(value) not in (2, 4, 6):
            raise DataError(f"task=(...) takes (X, y), (X, y, X_valid, y_valid) or (X, y, "
                            f"X_valid, y_valid, X_test, y_test); got {len(value)} items")
        return task_from(*value, seed=seed)
    if isinstance(value, (np.ndarray, torch.Tensor)):
        raise DataError("task=X needs the labels too: task=(X, y)")
    if isinstance(value, Dataset):
        return task_from(*dataset_arrays(value), name="dataset", seed=seed)
    return value


def path_spec(path: Path) -> dict[str, str]:
    """A folder of class folders -> an imagefolder task; a ``.npz`` file -> an npz task."""
    where = path.expanduser().resolve()
    if where.is_dir():
        return {"name": "imagefolder", "root": str(where)}
    if where.suffix == ".npz" and where.is_file():
        return {"name": "npz", "path": str(where)}
    if where.exists():
        raise DataError(f"{path}: a task file must be a .npz (arrays x, y) or a folder of "
                        "class folders")
    raise DataError(f"{path}: no such task, file or folder (tasks: {', '.join(TASKS.names())})")
