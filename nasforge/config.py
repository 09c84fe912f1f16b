"""Strict run configuration: frozen dataclasses, YAML files and ``--set key=value`` overrides.

Every component section (``space``, ``task``, ``evaluator``, ``strategy``, ``selection``) has a
``name`` and the keyword options of the registered factory of that name. Options are checked
against the factory's signature and type hints, so a typo or a wrong type fails before anything
runs, with an error that names the key.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from nasforge.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """YAML as people write numbers: ``1e5``, ``2.5e-3`` and ``1E+5`` are floats (YAML 1.1,
    PyYAML's dialect, reads an exponent without a dot or a sign as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_yaml(text: str) -> Any:
    """Parse YAML text with :class:`_Loader`."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)

# Arguments the runner passes to factories itself; a config may not set them.
INJECTED = frozenset({"space", "task", "seed", "device", "runtime", "search_space",
                      "inner_search"})


@dataclass(frozen=True)
class Component:
    """A registered component: its name and its keyword options."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dict(self.options)}


@dataclass(frozen=True)
class Budget:
    """When a search stops: after ``trials`` evaluations and/or ``seconds`` of evaluation cost
    (simulated seconds for a table, measured seconds for real training). Both None = unbounded,
    which only strategies that stop by themselves accept."""

    trials: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials > MAX_TRIALS:
            raise ConfigError(f"budget.trials={self.trials:g} is more than {MAX_TRIALS:,}: a "
                              "search that would never end")
        if self.seconds is not None and not self.seconds <= MAX_SECONDS:
            raise ConfigError(f"budget.seconds={self.seconds:g} is more than {MAX_SECONDS:g} "
                              "(30 years): a search that would never end")


MAX_TRIALS, MAX_SECONDS = 10_000_000, 1e9  # beyond these a budget is a typo, not a plan


@dataclass(frozen=True)
class RunConfig:
    space: Component
    strategy: Component
    evaluator: Component | None = None
    task: Component | None = None
    selection: Component | None = None  # one-shot strategies: how to pick the architecture
    budget: Budget = field(default_factory=Budget)
    seed: int = 0
    device: str = "auto"
    precision: str = "32-true"  # nasforge.runtime: 32-true, 64-true, bf16-mixed, 16-mixed
    compile: bool | str = "auto"  # compile training steps: auto (on CUDA), true, false
    executor: Component | None = None  # ask/tell searches: where candidates run
    distributed: int = 1  # one-shot searches: data-parallel processes (distributed.nproc)
    supernet_from: str | None = None  # one-shot searches: start from this run's trained supernet

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, "device": self.device}
        if self.precision != "32-true":
            out["precision"] = self.precision
        if self.compile != "auto":
            out["compile"] = self.compile
        if self.executor is not None:
            out["executor"] = self.executor.to_dict()
        if self.distributed != 1:
            out["distributed"] = {"nproc": self.distributed}
        if self.supernet_from is not None:
            out["supernet_from"] = self.supernet_from
        for section in COMPONENT_SECTIONS:
            comp = getattr(self, section)
            if comp is not None:
                out[section] = comp.to_dict()
        out["budget"] = dataclasses.asdict(self.budget)
        return out


COMPONENT_SECTIONS = ("space", "task", "evaluator", "strategy", "selection")
REQUIRED_SECTIONS = ("space", "strategy")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a YAML file, apply ``key.sub=value`` overrides, and validate strictly."""
    return config_from_dict(apply_overrides(read_mapping(Path(path)), overrides))


def read_mapping(path: Path) -> dict[str, Any]:
    """A config file's top-level mapping (one-line errors for a missing file, bad YAML or a
    top level that is not a mapping)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = read_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` strings; the value is parsed as YAML (``3`` is an int, ``x`` a str)."""
    out = _deep_copy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = read_yaml(text)
        except yaml.YAMLError:
            value = text
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    return raw


def config_from_dict(raw: Mapping[str, Any]) -> RunConfig:
    """The strict shape of a config (keys, types, budget). Component names and options are
    checked against their factories where components are built
    (``nasforge.run.components.check_config``): parsing imports no component."""
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    for section in REQUIRED_SECTIONS:
        if section not in raw:
            raise ConfigError(f"config key {section!r} is required")
    kwargs: dict[str, Any] = {}
    for section in COMPONENT_SECTIONS:
        if raw.get(section) is not None:
            kwargs[section] = _component(section, raw[section])
    if raw.get("executor") is not None:
        kwargs["executor"] = _component("executor", raw["executor"])
    if raw.get("distributed") is not None:
        kwargs["distributed"] = _distributed(raw["distributed"])
    kwargs["budget"] = _budget(raw.get("budget") or {})
    kwargs["seed"] = check_value("seed", raw.get("seed", 0), int)
    if kwargs["seed"] < 0:
        raise ConfigError(f"seed must be >= 0, got {kwargs['seed']}")
    kwargs["device"] = check_value("device", raw.get("device", "auto"), str)
    kwargs["precision"] = str(check_value("precision", raw.get("precision", "32-true"),
                                          str | int))
    kwargs["compile"] = check_value("compile", raw.get("compile", "auto"),
                                    bool | Literal["auto"])
    kwargs["supernet_from"] = check_value("supernet_from", raw.get("supernet_from"), str | None)
    return RunConfig(**kwargs)


def _component(section: str, raw: Any) -> Component:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"config key {section!r} needs a 'name' (e.g. {section}: {{name: ...}})")
    options = {k: v for k, v in raw.items() if k != "name"}
    return Component(name=raw["name"], options=options)


def _distributed(raw: Any) -> int:
    if not isinstance(raw, Mapping) or set(raw) - {"nproc"}:
        raise ConfigError("config key 'distributed' takes only nproc (e.g. distributed: "
                          "{nproc: 2})")
    nproc = int(check_value("distributed.nproc", raw.get("nproc", 1), int))
    if nproc < 1:
        raise ConfigError(f"distributed.nproc must be >= 1, got {nproc}")
    return nproc


def _budget(raw: Any) -> Budget:
    if not isinstance(raw, Mapping):
        raise ConfigError("config key 'budget' must be a mapping (trials, seconds)")
    known = {f.name for f in dataclasses.fields(Budget)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"unknown config key 'budget.{key}' (known: trials, seconds)")
    trials = check_value("budget.trials", raw.get("trials"), int | None)
    seconds = check_value("budget.seconds", raw.get("seconds"), float | None)
    if trials is not None and trials <= 0:
        raise ConfigError(f"budget.trials must be positive, got {trials}")
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"budget.seconds must be positive, got {seconds}")
    return Budget(trials=trials, seconds=seconds)


def check_options(factory: Callable[..., Any], options: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError if an option is not a parameter of ``factory`` or has the wrong type."""
    target = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    if target is object.__init__:  # a class without options
        target = _no_options
    params = inspect.signature(target).parameters
    hints = typing.get_type_hints(target)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value in options.items():
        full = f"{where}.{key}"
        if key in INJECTED:
            raise ConfigError(f"config key {full!r} is set by nasforge itself, not by a config")
        if key not in params:
            if accepts_any:
                continue
            allowed = sorted(k for k in params if k not in INJECTED and k != "self")
            raise ConfigError(f"unknown config key {full!r} (known: {', '.join(allowed)})")
        if key in hints:
            check_value(full, value, hints[key])


def _no_options() -> None:
    """The signature of a component that takes no options."""


def check_value(key: str, value: Any, hint: Any) -> Any:
    """Return ``value`` if it matches the type hint, else raise ConfigError naming ``key``.
    A whole float where an integer is expected (``budget.trials=1e3``) is that integer."""
    wants_int = hint is int or (int in typing.get_args(hint) and float not in
                                typing.get_args(hint))
    if wants_int and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not _matches(value, hint):
        raise ConfigError(f"config key {key!r}: expected {_describe(hint)}, got {value!r}")
    wants_float = hint is float or float in typing.get_args(hint)
    if wants_float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # YAML reads 12000 as an int; a float option gets a float
    return value


def _matches(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(map(_matches, value, args))
        item = args[0] if args else Any
        return all(_matches(v, item) for v in value)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return isinstance(value, Mapping)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
