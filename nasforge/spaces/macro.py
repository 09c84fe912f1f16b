"""The macro CNN space of Zoph & Le (ICLR 2017, Sec. 3.3 and 4.1), registered as ``macro``.

A network of ``depth`` layers (a decision, so a curriculum can grow it); layer i chooses its
filter height and width, number of filters, and optionally stride and type (conv or pooling),
and for every earlier layer j whether j is one of its inputs (``L03/in01``: the anchor-point
connections the RL controller samples with attention). The paper's three repair rules make
every description a valid network, nothing is rejected:

1. a layer with no input takes the image (the stem's output);
2. the classifier reads the depth-concatenation of every layer output no later layer consumed;
3. inputs of different spatial size are zero-padded (at the end of each spatial dim) to the
   largest before they are concatenated along depth.

A conv layer is conv (filter_h x filter_w, "same" padding, stride) -> batch norm -> ReLU;
a pooling layer pools its input with the same window and keeps its channels.
Note: on 1D inputs (C, L) the kernel is filter_h long and filter_w has no effect. A global
``lr`` decision (``learning_rates``) is the paper's learning-rate token: ``training_overrides``
returns it for an evaluator to use.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from nasforge.architecture import Architecture, Categorical
from nasforge.errors import ArchitectureError, ConfigError
from nasforge.nn.layers import avg_pool, batch_norm, conv, global_avg_pool, max_pool
from nasforge.registry import SPACES
from nasforge.spaces.base import SearchSpace
from nasforge.task import Shape


def _label(i: int, what: str) -> str:
    return f"L{i:02d}/{what}"


def _pad_to(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Zero-pad the spatial dims of ``x`` at their end up to ``size`` (repair rule 3)."""
    pad: list[int] = []
    for have, want in zip(reversed(x.shape[2:]), reversed(size), strict=True):
        pad += [0, want - have]
    return nn.functional.pad(x, pad) if any(pad) else x


def _concat(tensors: list[torch.Tensor]) -> torch.Tensor:
    if len(tensors) == 1:
        return tensors[0]
    size = tuple(max(t.shape[d] for t in tensors) for d in range(2, tensors[0].dim()))
    return torch.cat([_pad_to(t, size) for t in tensors], dim=1)


class MacroNet(nn.Module):
    """The network of one description; ``inputs[i]`` lists layer i's input layers (-1 = the
    stem's output) after repair rule 1, ``heads`` the layers the classifier reads (rule 2)."""

    def __init__(self, shape: Shape, layers: list[dict[str, Any]], stem: int) -> None:
        super().__init__()
        dim = shape.dim
        self.stem = nn.Sequential(conv(dim, shape.input_shape[0], stem, 3, padding=1, bias=False),
                                  batch_norm(dim, stem), nn.ReLU())
        width = {-1: stem}
        self.inputs: list[list[int]] = []
        blocks = []
        for i, spec in enumerate(layers):
            inputs = [j for j in spec["inputs"] if j < i] or [-1]  # repair rule 1
            self.inputs.append(inputs)
            c_in = sum(width[j] for j in inputs)
            block, width[i] = _layer(dim, c_in, spec)
            blocks.append(block)
        self.blocks = nn.ModuleList(blocks)
        used = {j for inputs in self.inputs for j in inputs}
        self.heads = [i for i in range(len(layers)) if i not in used]  # repair rule 2
        self.pool = global_avg_pool(dim)
        self.classifier = nn.Linear(sum(width[i] for i in self.heads), shape.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = {-1: self.stem(x)}
        for i, block in enumerate(self.blocks):
            outputs[i] = block(_concat([outputs[j] for j in self.inputs[i]]))
        pooled = [self.pool(outputs[i]).flatten(1) for i in self.heads]
        return self.classifier(torch.cat(pooled, dim=1))  # type: ignore[no-any-return]


def _layer(dim: int, c_in: int, spec: dict[str, Any]) -> tuple[nn.Module, int]:
    kernel = (spec["filter_h"],) if dim == 1 else (spec["filter_h"], spec["filter_w"])
    padding = tuple(k // 2 for k in kernel)
    stride = spec["stride"]
    if spec["type"] == "conv":
        return nn.Sequential(
            conv(dim, c_in, spec["filters"], kernel, stride=stride, padding=padding,  # type: ignore[arg-type]
                 bias=False),
            batch_norm(dim, spec["filters"]), nn.ReLU()), spec["filters"]
    pool = max_pool if spec["type"] == "max_pool" else avg_pool
    return pool(dim, kernel, stride, padding), c_in  # type: ignore[arg-type]


@SPACES.register("macro")
class MacroSpace(SearchSpace):
    """See the module docstring. Options: ``max_layers``/``min_layers`` (the depth decision),
    the option lists of each token, ``search_stride``, ``search_type``, ``learning_rates``."""

    name = "macro"

    def __init__(self, max_layers: int = 6, min_layers: int = 1,
                 filter_heights: list[int] | None = None, filter_widths: list[int] | None = None,
                 filter_counts: list[int] | None = None, search_stride: bool = False,
                 search_type: bool = False, learning_rates: list[float] | None = None,
                 stem_channels: int = 24) -> None:
        self.heights = list(filter_heights or [1, 3, 5, 7])
        self.widths = list(filter_widths or [1, 3, 5, 7])
        self.counts = list(filter_counts or [24, 36, 48, 64])
        if not 1 <= min_layers <= max_layers or stem_channels < 1:
            raise ConfigError("macro needs 1 <= min_layers <= max_layers and stem_channels >= 1")
        if any(k < 1 or k % 2 == 0 for k in self.heights + self.widths) or min(self.counts) < 1:
            raise ConfigError("macro filter sizes must be odd and >= 1, filter counts >= 1")
        self.max_layers, self.min_layers = max_layers, min_layers
        self.search_stride, self.search_type = search_stride, search_type
        self.learning_rates = learning_rates
        self.stem_channels = stem_channels
        self._decisions = self._make_decisions()

    def _make_decisions(self) -> tuple[Categorical, ...]:
        out = [Categorical("depth", list(range(self.min_layers, self.max_layers + 1)))]
        for i in range(self.max_layers):
            out += self.layer_decisions(i)
            out += [Categorical(_label(i, f"in{j:02d}"), [0, 1]) for j in range(i)]
        if self.learning_rates:
            out.append(Categorical("lr", list(self.learning_rates)))
        return tuple(out)

    def layer_decisions(self, i: int) -> list[Categorical]:
        """Layer i's tokens in the order the controller emits them."""
        out = []
        if self.search_type:
            out.append(Categorical(_label(i, "type"), ["conv", "max_pool", "avg_pool"]))
        out += [Categorical(_label(i, "filter_h"), self.heights),
                Categorical(_label(i, "filter_w"), self.widths),
                Categorical(_label(i, "filters"), self.counts)]
        if self.search_stride:
            out.append(Categorical(_label(i, "stride"), [1, 2]))
        return out

    def anchor_decisions(self) -> dict[str, tuple[int, int]]:
        return {_label(i, f"in{j:02d}"): (i, j)
                for i in range(self.max_layers) for j in range(i)}

    def layer_of(self, label: str) -> int | None:
        match = re.match(r"L(\d+)/", label)
        return int(match.group(1)) if match else None

    @property
    def decisions(self) -> tuple[Categorical, ...]:
        return self._decisions

    def options(self) -> dict[str, Any]:
        return {"max_layers": self.max_layers, "min_layers": self.min_layers,
                "filter_heights": self.heights, "filter_widths": self.widths,
                "filter_counts": self.counts, "search_stride": self.search_stride,
                "search_type": self.search_type, "learning_rates": self.learning_rates,
                "stem_channels": self.stem_channels}

    def layers(self, arch: Architecture) -> list[dict[str, Any]]:
        """The used layers' specs (depth of them), connections to earlier used layers."""
        depth = int(arch["depth"])
        return [{"type": arch.get(_label(i, "type"), "conv"),
                 "filter_h": int(arch[_label(i, "filter_h")]),
                 "filter_w": int(arch[_label(i, "filter_w")]),
                 "filters": int(arch[_label(i, "filters")]),
                 "stride": int(arch.get(_label(i, "stride"), 1)),
                 "inputs": [j for j in range(i) if int(arch[_label(i, f"in{j:02d}")])]}
                for i in range(depth)]

    def build(self, arch: Architecture, shape: Shape) -> nn.Module:
        return MacroNet(shape, self.layers(self.validate(arch)), self.stem_channels)

    def training_overrides(self, arch: Architecture) -> dict[str, float]:
        return {"lr": float(arch["lr"])} if "lr" in arch else {}

    def key(self, arch: Architecture) -> str:
        """Layers beyond the depth do not exist: their decisions are left out."""
        depth = int(arch["depth"])

        def used(label: str) -> bool:
            layer = self.layer_of(label)
            return layer is None or layer < depth

        return Architecture({k: v for k, v in arch.items() if used(k)}).key()

    def format(self, arch: Architecture) -> str:
        """One token per layer, ``type:HxW/F/sS<-j,k``, then ``lr=...``; unused layers are
        written with their values too, after a ``|``, so the text round-trips."""
        parts = [self._layer_text(arch, i) for i in range(self.max_layers)]
        depth = int(arch["depth"])
        text = " ".join(parts[:depth]) + " | " + " ".join(parts[depth:])
        return text + (f" lr={arch['lr']}" if "lr" in arch else "")

    def _layer_text(self, arch: Architecture, i: int) -> str:
        inputs = ",".join(str(j) for j in range(i) if int(arch[_label(i, f"in{j:02d}")]))
        return (f"{arch.get(_label(i, 'type'), 'conv')}:{arch[_label(i, 'filter_h')]}x"
                f"{arch[_label(i, 'filter_w')]}/{arch[_label(i, 'filters')]}/"
                f"s{arch.get(_label(i, 'stride'), 1)}<-{inputs}")

    def parse(self, text: str) -> Architecture:
        pattern = re.compile(r"(\w+):(\d+)x(\d+)/(\d+)/s(\d)<-([\d,]*)$")
        head, _, rest = text.partition("|")
        lr = None
        tokens = rest.split()
        if tokens and tokens[-1].startswith("lr="):
            lr = tokens.pop()[3:]
        used = head.split()
        values: dict[str, Any] = {"depth": len(used)}
        for i, token in enumerate(used + tokens):
            match = pattern.match(token)
            if match is None:
                raise ArchitectureError(f"not a macro layer: {token!r} (e.g. conv:3x5/36/s1<-0,2)")
            values.update(self._layer_values(i, match.groups()))
        if lr is not None:
            values["lr"] = float(lr)
        return self.validate(Architecture(values))

    def _layer_values(self, i: int, groups: tuple[str, ...]) -> dict[str, Any]:
        kind, h, w, f, s, inputs = groups
        kept = {int(j) for j in inputs.split(",") if j}
        out: dict[str, Any] = {_label(i, "filter_h"): int(h), _label(i, "filter_w"): int(w),
                               _label(i, "filters"): int(f)}
        if self.search_type:
            out[_label(i, "type")] = kind
        if self.search_stride:
            out[_label(i, "stride")] = int(s)
        out.update({_label(i, f"in{j:02d}"): int(j in kept) for j in range(i)})
        return out
