"""A latency lookup table for the ShuffleNet space, measured on this machine: SPOS's latency
constraint (Guo et al., ECCV 2020, Sec. 3.5) sums per-block entries instead of timing every
candidate, as the authors do for their device.

Entries: ``"b{i:02d}/{op}/{scale:g}"`` is block ``i`` with choice ``op`` at width ``scale``,
timed alone at the input shape it sees inside the network; ``"base"`` is the rest (stem, last
conv, pooling, classifier). ``ShuffleNetSpace.latency`` reads such a table; write it as JSON
``{"entries": ...}`` and point ``constraints.latency_table`` at it.
Note: timings are medians of ``repeats`` forward passes (batch ``batch``, inference mode,
full precision: fake quantization does not make a CPU faster).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from nasforge.spaces.shufflenet.blocks import ShuffleNet, Unit
from nasforge.spaces.shufflenet.space import ShuffleNetSpace
from nasforge.task import Shape


def time_ms(run: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``run()`` in milliseconds."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


@torch.inference_mode()
def measure_latency_table(space: ShuffleNetSpace, shape: Shape, *, batch: int = 1,
                          repeats: int = 20, device: torch.device | None = None
                          ) -> dict[str, float]:
    """Every (block, choice, width) unit timed at its input shape, plus ``base``."""
    device = device or torch.device("cpu")
    skeleton = space.skeleton(shape)
    x = torch.randn(batch, *shape.input_shape, device=device)
    rest = ShuffleNet(skeleton, shape.input_shape[0], shape.num_classes, shape.dim, [])
    rest = rest.to(device).eval()
    feature, entries = rest.stem(x), {}
    for i, (c_in, c_out, stride) in enumerate(skeleton.blocks()):
        for op in space.choices:
            for scale in space.channel_scales:
                unit = Unit(op, c_in, c_out, space.mid(c_out, scale), stride, shape.dim)
                entries[f"b{i:02d}/{op}/{scale:g}"] = time_ms(
                    partial(unit.to(device).eval(), feature), repeats)
        feature = unit(feature)  # the next block's input shape does not depend on the choice
    entries["base"] = _time_rest(rest, x, feature, repeats)
    return entries


def _time_rest(net: ShuffleNet, x: torch.Tensor, last_block_out: torch.Tensor,
               repeats: int) -> float:
    """The stem on the input, then last conv, pooling and classifier on the blocks' output."""
    def run() -> None:
        net.stem(x)
        net.classifier(net.dropout(net.pool(net.last(last_block_out)).flatten(1)))

    return time_ms(run, repeats)
