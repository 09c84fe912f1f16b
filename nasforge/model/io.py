"""A trained network on disk and back, with what it needs to take data as the user has it.

``model.pt`` is one plain dict (``torch.load(..., weights_only=True)`` reads it): the state
dict, the space spec and the architecture (``space.build(arch, Shape(input_shape,
num_classes))`` rebuilds the network), the preprocessing and the class names.
``model.ts`` (TorchScript) and ``model.onnx`` hold the ``Predictor``: normalisation, then
the network, so they too take raw inputs; their class names and preprocessing ride along
as extra files (TorchScript) or model properties (ONNX).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, DataError
from nasforge.model.onnx import export_onnx
from nasforge.preprocessing import Preprocessing
from nasforge.spaces.base import SearchSpace
from nasforge.spaces.reference import space_from_spec
from nasforge.task import Shape

MODEL_FILE, TORCHSCRIPT_FILE, ONNX_FILE = "model.pt", "model.ts", "model.onnx"
PREDICT_BATCH = 512  # the batch size the test split is scored in (training.EVAL_BATCH)
EXAMPLE_BATCH = 8  # raw samples the exports are traced and checked on
MODEL_KEYS = ("state_dict", "space", "architecture", "input_shape", "num_classes")
Format = Literal["onnx", "torchscript"]


class Predictor(nn.Module):
    """A trained network behind its input preparation: ``forward(raw)`` normalises a raw
    batch (``Preprocessing``) and runs the network; ``predict`` / ``predict_proba`` take
    numpy arrays, tensors, image files or PIL images and answer in class names."""

    def __init__(self, network: nn.Module, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.normalize = preprocessing.module()
        self.network = network
        self.preprocessing = preprocessing

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The class names, in output order (None: the outputs are class indices)."""
        return self.preprocessing.classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.preprocessing.input_shape

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.network(self.normalize(raw))  # (batch, classes) logits

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities ``(n, classes)`` for raw samples ``x`` (see ``predict``)."""
        return torch.softmax(self.logits(x), dim=1).numpy()

    def predict(self, x: Any) -> np.ndarray:
        """The predicted class of each raw sample: names when the model has them, else
        indices. ``x``: a batch as a numpy array or tensor (samples first, each in the
        network's layout, e.g. ``(C, H, W)``, or with as many values in the order it has
        them, e.g. ``(H, W)`` or flat), one such sample, or image files / PIL images (one
        or a list; converted and resized as the training images were)."""
        index = self.logits(x).argmax(1).numpy()
        return index if self.classes is None else np.asarray(self.classes)[index]

    @torch.no_grad()
    def logits(self, x: Any) -> torch.Tensor:
        """Float32 CPU logits of raw samples, scored in batches in eval mode."""
        self.eval()
        raw = raw_batch(x, self.preprocessing)
        where = next(self.parameters(), torch.zeros(())).device
        return torch.cat([self(raw[i:i + PREDICT_BATCH].to(where)).float().cpu()
                          for i in range(0, len(raw), PREDICT_BATCH)])

    def example_inputs(self, n: int = EXAMPLE_BATCH, seed: int = 0) -> torch.Tensor:
        """``n`` raw samples whose prepared inputs are standard normal (to trace and check
        exports on values of the size the network saw in training)."""
        prep = self.preprocessing
        z = torch.randn(n, *prep.input_shape, generator=torch.Generator().manual_seed(seed))
        return (z * prep.tensor("std", z) + prep.tensor("mean", z)) / prep.scale


def raw_batch(x: Any, preprocessing: Preprocessing) -> torch.Tensor:
    """``x`` as a batch tensor of raw values (see ``Predictor.predict``)."""
    if _is_image(x):
        return read_images([x], preprocessing)
    if isinstance(x, Sequence) and not isinstance(x, str) and x and all(map(_is_image, x)):
        return read_images(list(x), preprocessing)
    batch = x if isinstance(x, torch.Tensor) else _tensor(x)
    if batch.dtype == torch.bool or not (batch.is_floating_point() or _is_integer(batch)):
        raise DataError(f"inputs must be numbers, got {batch.dtype}")
    # one sample, in any layout with the model's number of values ((8, 8) for (1, 8, 8))
    if batch.dim() <= len(preprocessing.input_shape) and \
            batch.numel() == preprocessing.num_values:
        return batch.unsqueeze(0)
    if batch.dim() > 0 and len(batch) == 0:
        raise DataError("no inputs to predict")
    if batch.dim() == 0 or batch[0].numel() != preprocessing.num_values:
        raise DataError(f"inputs of shape {tuple(batch.shape)} do not fit the model's input "
                        f"shape {preprocessing.input_shape} (give samples first)")
    return batch


def read_images(items: list[Any], preprocessing: Preprocessing) -> torch.Tensor:
    """Image files or PIL images as a ``uint8`` batch ``(n, C, H, W)``: grey for one-channel
    models, else RGB, resized (Pillow bilinear, as the image-folder task reads images) to
    ``image_size`` (else the model's input size)."""
    from PIL import Image, UnidentifiedImageError

    shape = preprocessing.input_shape
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"this model takes inputs of shape {shape}, not images")
    side = preprocessing.image_size
    size = (side, side) if side is not None else (shape[2], shape[1])  # PIL: (width, height)
    mode = "L" if shape[0] == 1 else "RGB"
    arrays = []
    for item in items:
        try:
            if isinstance(item, Image.Image):  # the caller's image: not ours to close
                pixels = _pixels(item, mode, size)
            else:
                with Image.open(item) as image:
                    pixels = _pixels(image, mode, size)
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"cannot read image {item}: {exc}") from None
        arrays.append(pixels[None] if mode == "L" else pixels.transpose(2, 0, 1))  # (C, H, W)
    return torch.from_numpy(np.stack(arrays))


def _pixels(image: Any, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(image.convert(mode).resize(size, Image.Resampling.BILINEAR))


def _tensor(x: Any) -> torch.Tensor:
    try:
        array = np.asarray(x)
    except ValueError:  # ragged nested lists
        raise DataError(f"cannot read {type(x).__name__} as inputs: give a numpy array, a "
                        "tensor, image file paths or PIL images") from None
    if array.dtype.kind not in "uif":
        raise DataError(f"inputs must be numbers, got {array.dtype} values")
    return torch.from_numpy(np.ascontiguousarray(array))


def _is_image(x: Any) -> bool:
    from PIL import Image

    return isinstance(x, (str, Path, Image.Image))


def _is_integer(t: torch.Tensor) -> bool:
    return not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool


# -- files ---------------------------------------------------------------------------------

def save_model(predictor: Predictor, out: Path, *, space: dict[str, Any],
               architecture: Architecture, num_classes: int) -> list[Path]:
    """``model.pt`` and ``model.ts`` of a CPU float32 ``predictor`` in ``out``; returns the
    paths written."""
    predictor.eval()
    out.mkdir(parents=True, exist_ok=True)
    prep = predictor.preprocessing.to_dict()
    torch.save({"state_dict": predictor.network.state_dict(), "space": space,
                "architecture": architecture.to_dict(),
                "input_shape": list(predictor.input_shape), "num_classes": num_classes,
                "preprocessing": prep, "classes": prep["classes"]}, out / MODEL_FILE)
    return [out / MODEL_FILE, save_torchscript(predictor, out / TORCHSCRIPT_FILE)]


def save_torchscript(predictor: Predictor, path: Path) -> Path:
    """A trace of ``predictor`` (raw inputs -> logits) that runs without nasforge; the class
    names and preprocessing as extra files ``classes.json`` / ``preprocessing.json``
    (``torch.jit.load(path, _extra_files={"classes.json": ""})`` reads them)."""
    with warnings.catch_warnings(), torch.no_grad():
        # torch 2.13 deprecates torch.jit for torch.export; TorchScript is still what runs
        # without Python (C++ torch::jit::load, mobile) and what model.ts has always been
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(predictor.eval(), predictor.example_inputs(2))
    extras = {f"{key}.json": json.dumps(value) for key, value in metadata(predictor).items()}
    traced.save(str(path), _extra_files=extras)
    return path


def metadata(predictor: Predictor) -> dict[str, Any]:
    """What an export carries beside the graph: class names and preprocessing."""
    return {"classes": None if predictor.classes is None else list(predictor.classes),
            "preprocessing": predictor.preprocessing.to_dict()}


def load(path: str | Path, *, space: SearchSpace | None = None) -> Predictor:
    """The model in ``path`` (a ``model.pt``, or a directory holding one, or a run directory
    holding ``retrain/model.pt``) as a CPU ``Predictor`` in eval mode. ``space``: the space
    it was built from, for a user space the file could not store by reference."""
    file = _model_file(Path(path))
    try:
        saved = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (torch raises many kinds for a bad file)
        raise DataError(f"{file}: not a nasforge model file ({type(exc).__name__})") from None
    missing = [k for k in MODEL_KEYS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise DataError(f"{file}: not a nasforge model file (missing {', '.join(missing)})")
    space = space or space_from_spec(saved["space"])
    arch = space.validate(Architecture(saved["architecture"]))
    shape = Shape(tuple(saved["input_shape"]), int(saved["num_classes"]))
    network = space.build(arch, shape)
    network.load_state_dict(saved["state_dict"])
    prep = saved.get("preprocessing")  # None in files written before it was saved
    preprocessing = Preprocessing.from_dict(prep) if prep else Preprocessing(shape.input_shape)
    return Predictor(network, preprocessing).eval()


def _model_file(path: Path) -> Path:
    for candidate in (path, path / MODEL_FILE, path / "retrain" / MODEL_FILE):
        if candidate.is_file():
            return candidate
    raise DataError(f"no model at {path}: give a model.pt (nasforge train writes one) or "
                    "the directory holding it")


def export(model: Predictor | str | Path, format: Format, path: str | Path) -> Path:  # noqa: A002
    """Write ``model`` (a ``Predictor``, or a ``model.pt`` / its directory) as ``"onnx"``
    (checked against PyTorch with onnxruntime: the ``onnx`` extra) or ``"torchscript"``;
    both take raw values (ONNX: float32 in the network's layout ``(batch, *input_shape)``,
    input ``input``, output ``logits``). Returns the path written."""
    predictor = model if isinstance(model, Predictor) else load(model)
    target = Path(path)
    if format == "torchscript":
        return save_torchscript(predictor, target)
    if format == "onnx":
        return export_onnx(predictor, predictor.example_inputs(), target,
                           metadata=metadata(predictor))
    raise ConfigError(f"export format must be 'onnx' or 'torchscript', got {format!r}")
