"""Registries of named variants.

The variants: fault models, protection schemes, technologies, quantizers, models, datasets, attack
objectives.

A variant registers itself where it is defined (``@FAULT_MODELS.register("transient")``). Every list
of names a user sees (config choices, CLI choices, help texts, the README's lists) is read from the
registry, never from a copy, and the conformance tests iterate over it, so a new variant is one file
and is tested the moment it registers.

A registry may be declared in a module lower in the house than its variants (the settings schema
declares the quantizer registry; the quantizers fill it). ``homes`` names the modules that fill it:
they are imported, by name and only when the names are first asked for, so declaring or importing a
registry loads nothing heavy (``wcatsim --help`` loads neither torch nor numba).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from sram_models.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named variants of one kind.

    Parameters
    ----------
    kind : str
        What a variant is, in messages ("fault model", "protection scheme").
    homes : sequence of str
        Modules whose import registers every variant (imported lazily, on first use).
    setting : str, optional
        The setting key that names a variant (``"attack.sweep.fault"``), for messages.
    """

    def __init__(self, kind: str, homes: Sequence[str] = (), setting: str | None = None) -> None:
        self.kind = kind
        self.homes = tuple(homes)
        self.setting = setting
        self._entries: dict[str, T] = {}
        self._docs: dict[str, str] = {}
        self._loaded = not self.homes

    def register(self, name: str, obj: T | None = None, *, doc: str | None = None) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, a decorator that registers what it decorates.

        Parameters
        ----------
        name : str
            The name users give (config values, CLI choices).
        obj : object, optional
            The variant (a class, a factory function or an instance).
        doc : str, optional
            One line for help texts; default: the first line of the object's docstring.

        Returns
        -------
        object
            ``obj`` itself, or a decorator returning the decorated object unchanged.
        """

        def add(item: T) -> T:
            if name in self._entries and self._entries[name] is not item:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = item
            text = doc if doc is not None else (getattr(item, "__doc__", None) or "").strip()
            self._docs[name] = text.splitlines()[0] if text else ""
            return item

        if obj is not None:
            return add(obj)
        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # before importing: a home that asks for names while loading gets no cycle
            for home in self.homes:
                importlib.import_module(home)

    def names(self) -> tuple[str, ...]:
        """Return the registered names, in registration order."""
        self._load()
        return tuple(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """``(name, variant)`` pairs, in registration order."""
        self._load()
        return list(self._entries.items())

    def doc(self, name: str) -> str:
        """Return the one-line description of ``name`` (empty when it has none)."""
        self._load()
        return self._docs.get(name, "")

    def get(self, name: str) -> T:
        """Return the variant registered as ``name``.

        Raises
        ------
        InputError
            One line naming the unknown name, the allowed ones and the closest match.
        """
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise InputError(self.unknown_message(name)) from None

    def unknown_message(self, name: Any, with_setting: bool = True) -> str:
        """Return the one-line message for an unknown ``name`` (used by :meth:`get` and config validation)."""
        names = self.names()
        where = f" ({self.setting})" if self.setting and with_setting else ""
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {self.kind} {name!r}{where}; allowed: {', '.join(names)}{hint}"

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} registered)"


__all__ = ["Registry"]
