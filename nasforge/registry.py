"""One small registry type; one instance per kind of component (spaces, strategies, ...)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from nasforge.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a name to a factory. Registering a name twice raises; an unknown name is a
    ConfigError that suggests the closest registered names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = factory
            return factory

        return add

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})"
            )
        return self._entries[name]

    def build(self, name: str, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


SPACES: Registry[Any] = Registry("search space")
STRATEGIES: Registry[Any] = Registry("strategy")
EVALUATORS: Registry[Any] = Registry("evaluator")
TASKS: Registry[Any] = Registry("task")
SELECTIONS: Registry[Any] = Registry("selection")
EXECUTORS: Registry[Any] = Registry("executor")
# One-shot supernets, keyed by the name of the space they hold (filled by nasforge.supernet's
# modules, so that spaces never import supernets): plain (every op) and gated (PGNAS).
SUPERNETS: Registry[Any] = Registry("supernet")
GATED_SUPERNETS: Registry[Any] = Registry("gated supernet")
