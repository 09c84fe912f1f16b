"""Hardware constraints on candidates (FLOPs, params, latency), enforced by rejection BEFORE a
candidate is evaluated, as in SPOS (Guo et al., ECCV 2020, Sec. 3.5): a candidate over a limit
is never scored, a new one is drawn instead.

Config (a strategy's ``constraints`` option)::

    constraints: {max_flops: 330e6, max_params: 3.4e6, max_latency_ms: 20,
                  latency_table: lut.json,         # or nb201_latency: <device>
                  max_bitops: 2e9}                 # mixed-precision spaces

- FLOPs and params are the space's ``cost(arch, shape)`` (multiply-adds, as NB201 and the
  SPOS paper count them) for the task's input shape; without a task, CIFAR-10's (3x32x32,
  10 classes), the shape NB201's table was measured on.
- BitOps (multiply-adds x weight bits x activation bits, the budget of SPOS's mixed-precision
  search, Sec. 4.3) are the space's ``bitops(arch, shape)``; only spaces that search bit
  widths have one.
- Latency comes from a lookup table: ``latency_table`` is a JSON file ``{"entries": {key:
  ms}}`` whose keys the space defines (``space.latency(arch, entries)``; for spaces without
  one, ``"<decision>=<option>"`` keys summed plus an optional ``"base"``), or
  ``nb201_latency`` names a device column ``lat_ms_<device>`` of the NAS-Bench-201 table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.nn.counting import Cost
from nasforge.spaces.base import SearchSpace
from nasforge.task import Shape

CIFAR10_SHAPE = Shape((3, 32, 32), 10)
KNOWN = ("max_flops", "max_params", "max_bitops", "max_latency_ms", "latency_table",
         "nb201_latency", "nb201_path")
Latency = Callable[[Architecture], float]


@dataclass
class Constraints:
    """Limits (None = no limit) and how to measure them. ``violation(arch)`` says why an
    architecture is rejected, or None when it fits. Costs are cached per architecture key."""

    space: SearchSpace
    shape: Shape
    max_flops: float | None = None
    max_params: float | None = None
    max_latency_ms: float | None = None
    latency: Latency | None = None
    max_bitops: float | None = None
    _costs: dict[str, Cost] = field(default_factory=dict, repr=False)

    def cost(self, arch: Architecture) -> Cost:
        key = self.space.key(arch)
        if key not in self._costs:
            self._costs[key] = self.space.cost(arch, self.shape)
        return self._costs[key]

    def violation(self, arch: Architecture) -> str | None:
        if self.max_flops is not None or self.max_params is not None:
            cost = self.cost(arch)
            if self.max_flops is not None and cost.flops > self.max_flops:
                return f"flops {cost.flops:,} > {self.max_flops:,.0f}"
            if self.max_params is not None and cost.params > self.max_params:
                return f"params {cost.params:,} > {self.max_params:,.0f}"
        if self.max_bitops is not None:
            assert isinstance(self.space, CountsBitOps)  # make_constraints checked
            bitops = self.space.bitops(arch, self.shape)
            if bitops > self.max_bitops:
                return f"bitops {bitops:,} > {self.max_bitops:,.0f}"
        if self.max_latency_ms is not None:
            assert self.latency is not None
            ms = self.latency(arch)
            if ms > self.max_latency_ms:
                return f"latency {ms:.3g} ms > {self.max_latency_ms:g} ms"
        return None

    def describe(self) -> str:
        limits = {"max_flops": self.max_flops, "max_params": self.max_params,
                  "max_bitops": self.max_bitops, "max_latency_ms": self.max_latency_ms}
        return ", ".join(f"{k}={v:g}" for k, v in limits.items() if v is not None)


@runtime_checkable
class CountsBitOps(Protocol):
    """A space that searches bit widths counts BitOps: multiply-adds x weight bits x
    activation bits (SPOS's ``max_bitops``)."""

    def bitops(self, arch: Architecture, shape: Shape) -> int: ...


@runtime_checkable
class OwnLatency(Protocol):
    """A space whose latency lookup table has keys of its own (else ``additive_latency``:
    one entry per decision)."""

    def latency(self, arch: Architecture, entries: Mapping[str, float]) -> float: ...


def make_constraints(space: SearchSpace, shape: Shape | None,
                     options: Mapping[str, Any] | None) -> Constraints | None:
    """Constraints from a config mapping (None or empty: no constraints)."""
    if not options:
        return None
    unknown = sorted(set(options) - set(KNOWN))
    if unknown:
        raise ConfigError(f"unknown constraint {unknown[0]!r} (known: {', '.join(KNOWN)})")
    max_latency, max_bitops = _limit(options, "max_latency_ms"), _limit(options, "max_bitops")
    if max_bitops is not None and not isinstance(space, CountsBitOps):
        raise ConfigError(f"constraints.max_bitops needs a space that searches bit widths; "
                          f"{space.name!r} has no bitops")
    return Constraints(space, shape or CIFAR10_SHAPE, max_flops=_limit(options, "max_flops"),
                       max_params=_limit(options, "max_params"), max_latency_ms=max_latency,
                       latency=_latency(space, options) if max_latency is not None else None,
                       max_bitops=max_bitops)


def _limit(options: Mapping[str, Any], key: str) -> float | None:
    value = options.get(key)
    if value is None:
        return None
    try:  # YAML reads 2.0e7 (no sign in the exponent) as a string: accept it
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (number > 0 and math.isfinite(number)):
        raise ConfigError(f"constraints.{key} must be a positive number, got {value!r}")
    return number


def _latency(space: SearchSpace, options: Mapping[str, Any]) -> Latency:
    table, device = options.get("latency_table"), options.get("nb201_latency")
    if (table is None) == (device is None):
        raise ConfigError("constraints.max_latency_ms needs exactly one of "
                          "constraints.latency_table (a JSON lookup table) or "
                          "constraints.nb201_latency (a device of the NB201 table)")
    if device is not None:
        return _nb201_latency(space, str(device), options.get("nb201_path"))
    entries = load_latency_table(Path(str(table)))
    if isinstance(space, OwnLatency):
        return lambda arch: float(space.latency(arch, entries))
    return lambda arch: additive_latency(arch, entries)


def load_latency_table(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
        entries = data["entries"] if isinstance(data, dict) and "entries" in data else data
        return {str(k): float(v) for k, v in entries.items()}
    except FileNotFoundError:
        raise ConfigError(f"latency table not found: {path}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a latency table ({exc})") from None


def additive_latency(arch: Architecture, entries: Mapping[str, float]) -> float:
    """``base`` plus one entry per decision, keyed ``"<decision>=<option>"``."""
    total = entries.get("base", 0.0)
    for label, option in arch.items():
        key = f"{label}={option}"
        if key not in entries:
            raise ConfigError(f"latency table has no entry {key!r}")
        total += entries[key]
    return total


def _nb201_latency(space: SearchSpace, device: str, path: str | None) -> Latency:
    from nasforge.evaluators.table import NB201Table
    from nasforge.spaces.nb201 import NB201Space

    if not isinstance(space, NB201Space):
        raise ConfigError(f"constraints.nb201_latency needs the nb201 space, not {space.name!r}")
    table = NB201Table(path)
    column = f"lat_ms_{device}"
    if column not in table.columns():
        devices = [c[len("lat_ms_"):] for c in table.columns() if c.startswith("lat_ms_")]
        raise ConfigError(f"unknown NB201 latency device {device!r}; known: {devices}")
    return lambda arch: table.value(space.format(arch), column)
