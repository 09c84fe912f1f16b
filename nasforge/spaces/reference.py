"""A search space as JSON: how ``best.json`` and ``model.pt`` name the space of a network.

A built-in space is its registry name and options (``{"name": "nb201", "C": 16, "N": 5}``).
A user's space is stored by reference, so that another process (``nasforge train``,
``nasforge.load``) can rebuild it: ``"class"`` names an importable class as
``"module:qualname"``, called with the remaining options (``SearchSpace.options()``); a
``FunctionSpace`` keeps its decisions as data and its ``build`` function by reference. A space
that no other process can import (defined in ``__main__`` or inside a function, a lambda
``build``) gets no reference and is given again with ``space=``.

Rebuilding imports the module a file names: as with pickle, only load files you trust.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from nasforge.architecture import Categorical
from nasforge.config import check_options
from nasforge.errors import ConfigError
from nasforge.registry import SPACES
from nasforge.spaces.base import FunctionSpace, SearchSpace

CLASS, BUILD, DECISIONS = "class", "build", "decisions"
RESERVED = ("name", CLASS, BUILD, DECISIONS)
GIVE_AGAIN = "pass space= (the SearchSpace it searched) to nasforge.train / nasforge.load"


def space_spec(space: SearchSpace) -> dict[str, Any]:
    """The JSON that rebuilds ``space`` (``space_from_spec``), by name or by reference."""
    spec: dict[str, Any] = {"name": space.name, **space.options()}
    if _registered(space):
        return spec
    if type(space) is FunctionSpace:
        spec[CLASS] = reference(FunctionSpace)
        spec[DECISIONS] = {d.label: list(d.options) for d in space.decisions}
        build = space.build_function
        if build is not None and (ref := reference(build)) is not None:
            spec[BUILD] = ref
        return spec
    if (ref := reference(type(space))) is not None:
        spec[CLASS] = ref
    return spec


def space_from_spec(spec: str | Mapping[str, Any]) -> SearchSpace:
    """The space ``spec`` describes: a registered name, or an importable class/function."""
    raw = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = str(raw.get("name", "custom"))
    if CLASS not in raw:
        return _registered_space(name, {k: v for k, v in raw.items() if k != "name"})
    target = resolve(str(raw[CLASS]), f"space {name!r}")
    if target is FunctionSpace:
        return _function_space(name, raw)
    options = {k: v for k, v in raw.items() if k not in RESERVED}
    try:
        space = target(**options)
    except TypeError as exc:
        raise ConfigError(f"space {name!r}: {raw[CLASS]}(**{options}) failed ({exc}); "
                          f"{GIVE_AGAIN}") from None
    if not isinstance(space, SearchSpace):
        raise ConfigError(f"space {name!r}: {raw[CLASS]} made a {type(space).__name__}, "
                          "not a SearchSpace")
    return space


def rebuildable(spec: str | Mapping[str, Any]) -> bool:
    """Whether ``spec`` alone rebuilds its space (a built-in name, or a stored reference);
    else ``nasforge.train`` / ``nasforge.load`` need ``space=`` (e.g. for the report to
    suggest the Python call rather than the command)."""
    import nasforge.spaces  # noqa: F401  (registers the built-in spaces)

    raw = {"name": spec} if isinstance(spec, str) else spec
    if CLASS not in raw:
        return str(raw.get("name")) in SPACES
    return raw[CLASS] != reference(FunctionSpace) or BUILD in raw


def reference(obj: Any) -> str | None:
    """``"module:qualname"`` when another process can import ``obj`` by it, else None."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None  # a script's own module, a lambda, or a function-local definition
    ref = f"{module}:{qualname}"
    try:
        return ref if resolve(ref, "") is obj else None
    except ConfigError:
        return None


def resolve(ref: str, what: str) -> Any:
    """The object ``"module:qualname"`` names."""
    module, _, qualname = ref.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what}: cannot import {ref} ({exc}); put its module on the "
                          f"Python path, or {GIVE_AGAIN}") from None
    return found


def _registered(space: SearchSpace) -> bool:
    """Whether the registry rebuilds ``space`` from its name (a subclass of a built-in
    space, even under the built-in's name, is a user space)."""
    return space.name in SPACES and type(space) is SPACES.get(space.name)


def _registered_space(name: str, options: dict[str, Any]) -> SearchSpace:
    import nasforge.spaces  # noqa: F401  (registers the built-in spaces)

    if name not in SPACES:
        raise ConfigError(f"space {name!r} is not built in and was stored without a "
                          f"reference (e.g. defined in a script or a notebook): {GIVE_AGAIN}")
    factory = SPACES.get(name)
    check_options(factory, options, "space")
    space: SearchSpace = factory(**options)
    return space


def _function_space(name: str, raw: dict[str, Any]) -> FunctionSpace:
    if BUILD not in raw:
        raise ConfigError(f"space {name!r} was searched with a build function that cannot be "
                          "imported (a lambda, or defined in __main__ or inside a function), "
                          f"so the run could not store it: {GIVE_AGAIN}, or define build at "
                          "module level in an importable module")
    build = resolve(str(raw[BUILD]), f"space {name!r}")
    decisions = [Categorical(label, options) for label, options in raw[DECISIONS].items()]
    return FunctionSpace(decisions, build, name=name)
