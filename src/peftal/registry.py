"""One small generic registry, used by every plug-in family (methods, strategies, datasets).

A plug-in registers itself next to its definition; the registry is the only list of names, so CLI
choices, docs tables and the contract tests are all generated from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from peftal.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → object mapping for one family of plug-ins.

    Args:
        kind: What the family is called in error messages ("method", "strategy", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; names are unique and lower_snake."""

        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if name != name.lower() or " " in name:
                raise ValueError(f"{self.kind} names are lower_snake, got {name!r}")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """The object registered as ``name``; a :class:`UsageError` listing valid names if none."""
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"unknown {self.kind} {name!r}; valid {self.kind} names: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
