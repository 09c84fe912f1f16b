"""ONNX export of a module on raw inputs, checked against PyTorch with onnxruntime.

onnx and onnxruntime are the optional extra ``nasforge[onnx]``: imported only here, only
when an export is asked for, with a one-line error naming the extra when they are missing.
"""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.errors import NasforgeError

# float32 graphs: onnxruntime fuses and reorders ops, so outputs differ in the last bits
RTOL, ATOL = 1e-3, 1e-4
MISSING = "ONNX export needs onnx and onnxruntime: pip install 'nasforge[onnx]'"


class ExportError(NasforgeError):
    """An exported model that is missing its dependencies or disagrees with PyTorch."""


def require_onnx() -> None:
    """Fail now (before hours of training) when the ``onnx`` extra is not installed."""
    _modules()


def export_onnx(module: nn.Module, example: torch.Tensor, path: Path,
                metadata: dict[str, Any] | None = None) -> Path:
    """Write ``module`` (in eval mode) as ONNX with a dynamic batch axis (input ``input``,
    output ``logits``), ``metadata`` as JSON model properties, and check that onnxruntime
    gives PyTorch's outputs on ``example``: a mismatch deletes the file and raises."""
    onnx, _ = _modules()
    module.eval()
    _export(module, example, path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    if metadata:
        onnx.helper.set_model_props(model, {k: json.dumps(v) for k, v in metadata.items()})
        onnx.save(model, str(path))
    try:
        check_onnx(module, example, path)
    except ExportError:
        path.unlink(missing_ok=True)  # never leave a wrong model behind
        raise
    return path


def _export(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    """The TorchScript-based exporter (``dynamo=False``), on torch 2.13 still a supported
    (deprecated) path. Why not torch's default torch.export-based one: that one needs
    onnxscript as a further dependency, took 3-6 s instead of 0.2-1.4 s for a tiny NB201 or
    DARTS network here (every retraining with --onnx pays it, and the tests on 2 cores), and
    prints progress lines on stdout; both gave the same outputs. Torch before 2.5 has no
    ``dynamo`` argument and uses this exporter anyway."""
    options: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's notice
        torch.onnx.export(module, (example,), str(path), input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          **options)


def check_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> float:
    """The largest difference between onnxruntime's and PyTorch's outputs on ``example``;
    raise ExportError beyond ``RTOL`` / ``ATOL``."""
    _, onnxruntime = _modules()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = module.eval()(example).float().numpy()
    (got,) = session.run(["logits"], {"input": example.float().numpy()})
    difference = float(np.abs(got - expected).max())
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
        raise ExportError(f"{path}: onnxruntime's outputs differ from PyTorch's by up to "
                          f"{difference:.3g} on a batch of {len(example)} (tolerance "
                          f"rtol={RTOL}, atol={ATOL}); the file was removed")
    return difference


def _modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise ExportError(MISSING) from None
    return onnx, onnxruntime
