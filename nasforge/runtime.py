"""Where and how tensors run: the device, the precision and whether training steps are
compiled. One small value, resolved once from the config (``device``, ``precision``,
``compile``) and handed to whatever trains or evaluates a network.

Models are built on the CPU in float32 (as every space builds them) and then placed with
:meth:`Runtime.place`; data follows the model (``nasforge.batches`` moves and casts each
batch to it). Nothing else creates tensors on a device of its own choosing: a tensor a verb
makes at run time is made ``like`` one the module already holds.

Precision (PyTorch Lightning's names): ``32-true`` (default), ``64-true`` (every weight and
input in float64: slow, but reproducible to the last digit, and the test suite's way of
finding tensors made in the wrong dtype or on the wrong device without a GPU), ``bf16-mixed``
and ``16-mixed`` (autocast: weights stay float32, convolutions and matrix products run in
half precision; meant for GPUs).

``compile``: ``auto`` compiles training steps on CUDA (``torch.compile``; supernets switch to
their static form, see ``nasforge.supernet.base``), not on the CPU, where compiling a
supernet takes minutes and did not pay (benchmarks/gpu.py measures both).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from nasforge.errors import ConfigError

Precision = Literal["32-true", "64-true", "bf16-mixed", "16-mixed"]
PRECISIONS: dict[str, Precision] = {
    "32": "32-true", "32-true": "32-true", "float32": "32-true",
    "64": "64-true", "64-true": "64-true", "float64": "64-true",
    "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed",
    "16": "16-mixed", "16-mixed": "16-mixed",
}
Compile = bool | Literal["auto"]


@dataclass(frozen=True)
class Runtime:
    """The device, precision and compilation a run trains and evaluates with."""

    device: torch.device = torch.device("cpu")
    precision: Precision = "32-true"
    compile: bool = False
    # torch.compile's mode and backend: on CUDA "reduce-overhead" (CUDA graphs: a step is one
    # launch, not thousands); the tests compile with "aot_eager" (the same capture, no codegen)
    compile_mode: str = "default"
    compile_backend: str = "inductor"

    @classmethod
    def of(cls, where: Runtime | torch.device | str | None) -> Runtime:
        """A Runtime from a Runtime, a device or a device name (None: the CPU)."""
        if isinstance(where, Runtime):
            return where
        return cls(torch.device(where or "cpu"))

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights and of the inputs."""
        return torch.float64 if self.precision == "64-true" else torch.float32

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(self.precision)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def place(self, module: nn.Module) -> nn.Module:
        """``module`` on this device, its floating-point tensors in this dtype."""
        return module.to(device=self.device, dtype=self.dtype)

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Mixed precision for the forward pass when the precision asks for it."""
        dtype = self.autocast_dtype
        if dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=dtype):
            yield

    def optimizer_options(self) -> dict[str, Any]:
        """Keyword options for torch's SGD/Adam: on CUDA the fused kernels (one launch for
        every parameter instead of several per parameter)."""
        return {"fused": True} if self.is_cuda and self.dtype != torch.float64 else {}

    def activate(self) -> None:
        """Process-wide settings a run on this device wants: cuDNN picks the fastest
        convolution algorithm per shape (shapes repeat every step)."""
        if self.is_cuda:
            torch.backends.cudnn.benchmark = True


def resolve_runtime(device: str = "auto", precision: str | int = "32-true",
                    compile: Compile | str = "auto") -> Runtime:  # noqa: A002
    """The Runtime of a config's ``device``, ``precision`` and ``compile``."""
    chosen = resolve_device(device)
    if str(precision) not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(sorted(set(PRECISIONS.values())))}"
                          f", got {precision!r}")
    if compile not in ("auto", True, False):
        raise ConfigError(f"compile must be auto, true or false, got {compile!r}")
    on_gpu = chosen.type == "cuda"
    return Runtime(chosen, PRECISIONS[str(precision)],
                   on_gpu if compile == "auto" else bool(compile),
                   compile_mode="reduce-overhead" if on_gpu else "default")


def resolve_device(device: str) -> torch.device:
    """The config's ``device`` ("auto": a GPU when there is one). A device this machine does
    not have is a user error, found here once instead of in every trial."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"device {device!r} is not a device name (available: "
                          f"{', '.join(available_devices())})") from None
    if chosen.type != "cpu" and not _has(chosen):
        raise ConfigError(f"device {device!r} is not available on this machine (available: "
                          f"{', '.join(available_devices())})")
    return chosen


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def _has(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return False  # xpu, meta, ...: not something nasforge runs on
