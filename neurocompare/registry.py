"""One small registry for models, metrics and benchmarks: a dict with a decorator.

Registration happens on import; nothing scans files or installs anything.

Examples
--------
>>> METRICS = Registry("metric")
>>> @METRICS.register("double")
... def double(x):
...     return 2 * x
>>> METRICS.get("double")(3)
6
>>> METRICS.names()
['double']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["Registry", "close_matches_hint"]

T = TypeVar("T")


def close_matches_hint(name: str, options: list[str], n: int = 5) -> str:
    """Return a sentence suggesting the options closest to ``name`` (empty when none are close)."""
    close = difflib.get_close_matches(name, options, n=n, cutoff=0.5)
    if not close:
        close = [o for o in options if name.lower() in o.lower()][:n]
    return f" Did you mean: {', '.join(close)}?" if close else ""


class Registry:
    """A named mapping from string keys to objects, filled with a decorator.

    Parameters
    ----------
    kind : str
        What is registered (``"metric"``, ``"model"``, ...); used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str, obj: Any = None) -> Any:
        """Register ``obj`` under ``name``; usable as ``@registry.register("name")``.

        Raises
        ------
        ValueError
            If ``name`` is already registered.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"A {self.kind} name must be a non-empty string; got {name!r}.")

        def _add(item: T) -> T:
            if name in self._items:
                raise ValueError(
                    f"A {self.kind} named {name!r} is already registered ({self._items[name]!r}). "
                    "Choose another name."
                )
            self._items[name] = item
            return item

        if obj is not None:
            return _add(obj)
        return _add

    def get(self, name: str) -> Any:
        """Return the object registered under ``name``.

        Raises
        ------
        KeyError
            With the available names and the closest matches, if ``name`` is unknown.
        """
        try:
            return self._items[name]
        except KeyError:
            options = self.names()
            raise KeyError(
                f"Unknown {self.kind} {name!r}.{close_matches_hint(str(name), options)} "
                f"Available: {', '.join(options) or '(none registered)'}."
            ) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"

    def items(self) -> list[tuple[str, Callable[..., Any]]]:
        """(name, object) pairs, sorted by name."""
        return [(n, self._items[n]) for n in self.names()]
