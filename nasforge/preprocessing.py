"""How a raw sample becomes a network's input, kept with every task and every saved model.

A task normalises its data before the network sees it (per channel for images, per feature
for tables). A model trained on it only makes sense on inputs prepared the same way, so the
task records that preparation here, ``nasforge train`` saves it beside the weights, and
``nasforge.load`` puts it in front of the network: the loaded model takes data as the user
has it (8-bit images, raw feature values) rather than as the training loop had it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nasforge.errors import DataError

Nested = float | list[Any]  # a number or nested lists, as torch.tensor reads them


@dataclass(frozen=True)
class Preprocessing:
    """``input = (reshape(raw) * scale - mean) / std``.

    ``input_shape`` is one network input; a raw sample of another shape with as many values
    (a table row of ``F`` features for a ``(1, F)`` input) is reshaped to it. ``mean`` and
    ``std`` are numbers or nested lists that broadcast against ``input_shape`` (``(C, 1, 1)``
    per channel, ``(1, F)`` per feature). ``image_size`` is the side that image files are
    resized to; ``classes`` names the outputs (None: the class indices)."""

    input_shape: tuple[int, ...]
    scale: float = 1.0
    mean: Nested = 0.0
    std: Nested = 1.0
    image_size: int | None = None
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        mean, std = torch.tensor(self.mean), torch.tensor(self.std)
        try:
            torch.broadcast_shapes(mean.shape, std.shape, self.input_shape)
        except RuntimeError:
            raise DataError(f"normalisation of shape {tuple(mean.shape)} / {tuple(std.shape)} "
                            f"does not fit inputs of shape {self.input_shape}") from None
        if not bool((std > 0).all()):
            raise DataError("normalisation std must be positive")

    @classmethod
    def per_channel(cls, input_shape: tuple[int, ...], mean: list[float], std: list[float],
                    **kwargs: Any) -> Preprocessing:
        """Per-channel statistics (one value per channel) spread over the other axes."""
        spread = [1] * (len(input_shape) - 1)
        return cls(input_shape, mean=torch.tensor(mean).reshape(-1, *spread).tolist(),
                   std=torch.tensor(std).reshape(-1, *spread).tolist(), **kwargs)

    @property
    def num_values(self) -> int:
        return math.prod(self.input_shape)

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        """A batch of raw samples -> a float batch of network inputs."""
        x = raw.to(torch.get_default_dtype()) if not raw.is_floating_point() else raw
        if tuple(x.shape[1:]) != self.input_shape:
            if x[0].numel() != self.num_values:
                raise DataError(f"inputs of shape {tuple(x.shape[1:])} do not fit the model's "
                                f"input shape {self.input_shape}")
            x = x.reshape(len(x), *self.input_shape)
        return (x * self.scale - self.tensor("mean", x)) / self.tensor("std", x)

    def tensor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(getattr(self, name), dtype=like.dtype, device=like.device)

    def module(self) -> Normalize:
        """The same preparation as a module (kept in TorchScript and ONNX exports)."""
        return Normalize(self)

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "scale": self.scale, "mean": self.mean,
                "std": self.std, "image_size": self.image_size,
                "classes": None if self.classes is None else list(self.classes)}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Preprocessing:
        fields = dict(record)
        classes = fields.pop("classes", None)
        return cls(input_shape=tuple(fields.pop("input_shape")),
                   classes=None if classes is None else tuple(classes), **fields)


class Normalize(nn.Module):
    """``Preprocessing`` as buffers: reshape, scale, subtract the mean, divide by the std."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.input_shape = preprocessing.input_shape
        self.scale = float(preprocessing.scale)
        self.register_buffer("mean", torch.tensor(preprocessing.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(preprocessing.std, dtype=torch.float32))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        x = raw.reshape(raw.shape[0], *self.input_shape).to(self.mean.dtype)
        return (x * self.scale - self.mean) / self.std
