"""Architectures are plain data: a frozen mapping from decision label to choice."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasforge.errors import ArchitectureError

Choice = str | int | float | bool


@dataclass(frozen=True)
class Categorical:
    """One discrete decision of a search space: a label and the options it can take."""

    label: str
    options: tuple[Choice, ...]

    def __init__(self, label: str, options: Sequence[Choice]) -> None:
        if not options:
            raise ArchitectureError(f"decision {label!r} has no options")
        if len(set(options)) != len(options):
            raise ArchitectureError(f"decision {label!r} repeats an option: {list(options)}")
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "options", tuple(options))

    def __len__(self) -> int:
        return len(self.options)

    def index(self, choice: Choice) -> int:
        try:
            return self.options.index(choice)
        except ValueError:
            raise ArchitectureError(
                f"{choice!r} is not an option of {self.label!r}; options: {list(self.options)}"
            ) from None


class Architecture(Mapping[str, Choice]):
    """A frozen mapping ``{decision label: choice}`` with a JSON round trip and a stable key.

    ``key()`` is the plain key (same choices -> same key). Spaces that know about isomorphisms
    offer ``SearchSpace.key(arch)``, which maps isomorphic architectures to one key.
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, choices: Mapping[str, Choice] | None = None, **kwargs: Choice) -> None:
        merged = dict(choices or {}, **kwargs)
        for label, choice in merged.items():
            if not isinstance(label, str) or not isinstance(choice, (str, int, float, bool)):
                raise ArchitectureError(f"bad decision {label!r}: {choice!r} (want str -> scalar)")
        self._items: dict[str, Choice] = dict(sorted(merged.items()))
        self._hash = hash(tuple(self._items.items()))

    def __getitem__(self, label: str) -> Choice:
        return self._items[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Architecture):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"Architecture({self._items!r})"

    def replace(self, **changes: Choice) -> Architecture:
        """A copy with some decisions changed."""
        return Architecture(dict(self._items, **changes))

    def key(self) -> str:
        return json.dumps(self._items, sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Choice]:
        return dict(self._items)

    def to_json(self) -> str:
        return self.key()

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> Architecture:
        if isinstance(text, Mapping):
            return cls(dict(text))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArchitectureError(f"architecture is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ArchitectureError("architecture JSON must be an object {label: choice}")
        return cls(data)
