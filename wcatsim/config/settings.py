"""The machinery every settings section shares.

Frozen pydantic v2 dataclasses, extra keys forbidden, and errors of one line that name the setting key.

A section is a :func:`pydantic.dataclasses.dataclass` (so ``dataclasses.replace``, ``asdict`` and
``fields`` keep working where the code base copies a section), declared with :func:`settings`. Its
values are checked in two places: pydantic checks each field's type, and the section's
``__post_init__`` checks bounds and cross-field rules with :func:`check`, whose message names the key.
pydantic would wrap those in a multi-line ``ValidationError``; :func:`settings` unwraps them so every
error stays one line (``ConfigError``), as users have it today.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

import pydantic
import pydantic.dataclasses
from pydantic import ConfigDict

from sram_models.errors import InputError
from wcatsim.errors import ConfigError

# frozen: a config is a value (hashed into run-directory names); extra keys forbidden: a misspelt key is
# an error, never silently ignored.
SECTION_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


class FieldError(ConfigError):
    """A bad value found by a section's own check; ``key`` lets the loader name the file it came from."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def check(ok: bool, key: str, message: str) -> None:
    """Raise :class:`FieldError` ``"key: message"`` unless ``ok``."""
    if not ok:
        raise FieldError(key, f"{key}: {message}")


def check_choice(value: Any, key: str, names_attr: str, kind: str) -> None:
    """Check ``value`` against a registry list of :mod:`sram_models` (read there, never copied).

    Parameters
    ----------
    value : object
        The setting's value.
    key : str
        The setting key, for the message (``"attack.sweep.protect"``).
    names_attr : str
        The name tuple of :mod:`sram_models` (``"SCHEME_NAMES"``, ``"FAULT_MODEL_NAMES"``).
    kind : str
        What a name is, in the message (``"protection scheme"``).
    """
    import sram_models  # lazy attributes: the names load without numba

    names = tuple(getattr(sram_models, names_attr))
    if value not in names:
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FieldError(key, f"{key}: unknown {kind} {value!r}; allowed: {', '.join(names)}{hint}")


def settings(section: str) -> Any:
    """Class decorator: a frozen pydantic dataclass for the settings section ``section`` (``"attack.bfa"``).

    Construction errors are one line: a section's own :class:`FieldError` (or any
    :class:`~sram_models.errors.InputError`) comes out unchanged, pydantic's type and unknown-key errors
    become a :class:`~wcatsim.errors.ConfigError` naming ``section.key`` with a "did you mean".
    """

    def wrap(cls: type) -> type:
        made = pydantic.dataclasses.dataclass(frozen=True, config=SECTION_CONFIG)(cls)
        init = made.__init__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except pydantic.ValidationError as exc:
                raise _one_line(made, section, exc) from None

        made.__init__ = __init__
        made.__settings_section__ = section
        return made

    return wrap


def _one_line(cls: type, section: str, exc: pydantic.ValidationError) -> InputError:
    error = exc.errors()[0]
    original = (error.get("ctx") or {}).get("error")
    if isinstance(original, InputError):
        return original
    loc = ".".join(str(part) for part in error.get("loc", ()))
    key = f"{section}.{loc}" if section and loc else (loc or section)
    if error.get("type") == "unexpected_keyword_argument":
        allowed = list(cls.__pydantic_fields__)
        close = difflib.get_close_matches(loc, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        allowed_text = ", ".join(allowed)
        return FieldError(key, f"unknown key {key!r}; allowed keys of [{section}]: {allowed_text}{hint}")
    return FieldError(key, f"{key}: {error.get('msg', exc)} (got {error.get('input')!r})")


def field_docs(cls: type) -> dict[str, str]:
    """Return the one-line doc of every field of a settings section (``Field(description=...)``)."""
    return {name: (info.description or "") for name, info in cls.__pydantic_fields__.items()}


__all__ = ["FieldError", "SECTION_CONFIG", "check", "check_choice", "field_docs", "settings"]
