"""Keyword arguments of the registry's models: what each accepts, checked before anything is built.

``build_model(name, ..., **args)`` passes ``args`` (the config's ``[model.args]`` table) to the model's
builder.  Each builder declares its arguments as :class:`ModelArg` entries; an unknown name, a value
of the wrong type or out of range is an :class:`InputError` that lists what the model accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sram_models.errors import InputError
from wcatsim.config.registries import MODELS


@dataclass(frozen=True)
class ModelArg:
    """One keyword argument of a model builder."""

    kind: type  # int, float or str (a float argument also takes an int, as TOML writes 1 for 1.0)
    default: Any  # None = chosen from the image size (the builder says how)
    help: str  # what it is, in a few words, with its unit
    minimum: float | None = None  # smallest allowed value (inclusive)
    below: float | None = None  # values must be strictly below this
    choices: tuple[str, ...] | None = None  # allowed strings

    def allowed(self) -> str:
        """Return the allowed values in words: ``int >= 1``, ``float in [0, 1)``, ``auto|cifar``."""
        if self.choices is not None:
            allowed = "|".join(self.choices)
        else:
            allowed = self.kind.__name__
            if self.minimum is not None and self.below is not None:
                allowed += f" in [{self.minimum:g}, {self.below:g})"
            elif self.minimum is not None:
                allowed += f" >= {self.minimum:g}"
            elif self.below is not None:
                allowed += f" < {self.below:g}"
        return allowed

    def describe(self) -> str:
        """Return the allowed values and the default in words, for error messages."""
        default = "auto" if self.default is None else repr(self.default)
        return f"{self.allowed()}, default {default}"


def describe_args(spec: Mapping[str, ModelArg]) -> str:
    """Return ``a (int >= 1, default 64), b (...)`` for error messages."""
    if not spec:
        return "none"
    return "; ".join(f"{name} ({arg.describe()})" for name, arg in spec.items())


def check_args(model: str, spec: Mapping[str, ModelArg], args: Mapping[str, Any]) -> dict[str, Any]:
    """Return the full argument set (defaults filled in) after checking ``args`` against ``spec``.

    Parameters
    ----------
    model : str
        The model's name, for error messages.
    spec : mapping of str to ModelArg
        The arguments the model's builder takes.
    args : mapping of str to object
        The arguments given (a config's ``model.args``).

    Raises
    ------
    InputError
        For an unknown argument or a bad value, listing what the model accepts.
    """
    unknown = [name for name in args if name not in spec]
    if unknown:
        raise InputError(
            f"model {model!r} has no argument {', '.join(map(repr, unknown))}; "
            f"it accepts: {describe_args(spec)}"
        )
    out = {name: arg.default for name, arg in spec.items()}
    for name, value in args.items():
        out[name] = _checked(model, name, spec[name], value)
    return out


def _checked(model: str, name: str, arg: ModelArg, value: Any) -> Any:
    where = f"model {model!r} argument {name}"
    if arg.kind is str:
        if not isinstance(value, str) or (arg.choices is not None and value not in arg.choices):
            raise InputError(f"{where} must be one of {', '.join(arg.choices or ())}, got {value!r}")
        return value
    if isinstance(value, bool):
        raise InputError(f"{where} must be a number ({arg.describe()}), got {value!r}")
    if arg.kind is int:
        if not isinstance(value, int):
            raise InputError(f"{where} must be an integer ({arg.describe()}), got {value!r}")
    elif isinstance(value, (int, float)) and math.isfinite(value):
        value = float(value)
    else:
        raise InputError(f"{where} must be a finite number ({arg.describe()}), got {value!r}")
    if (arg.minimum is not None and value < arg.minimum) or (arg.below is not None and value >= arg.below):
        raise InputError(f"{where} must be {arg.allowed()}, got {value!r}")
    return value


@dataclass(frozen=True)
class ModelEntry:
    """A MODELS entry: ``build(num_classes, in_channels, image_size, **args)`` and its arguments."""

    build: Callable[..., Any]
    args: Mapping[str, ModelArg] = field(default_factory=dict)


def register_model(name: str, build: Callable[..., Any] | None = None,
                   args: Mapping[str, ModelArg] | None = None) -> Any:
    """Register a model builder in :data:`wcatsim.config.registries.MODELS` under ``name``.

    Parameters
    ----------
    name : str
        The ``model.name`` users give.
    build : callable, optional
        ``build(num_classes, in_channels, image_size, **args)`` returning an ``nn.Module`` (a class with
        that signature does); without it, a decorator that registers what it decorates.
    args : mapping of str to ModelArg, optional
        The keyword arguments the builder takes (default: none).

    Returns
    -------
    object
        ``build`` itself, or a decorator returning the decorated builder unchanged.
    """

    def add(builder: Callable[..., Any]) -> Callable[..., Any]:
        text = (getattr(builder, "__doc__", None) or "").strip()
        MODELS.register(name, ModelEntry(builder, dict(args or {})), doc=text.splitlines()[0] if text else "")
        return builder

    return add if build is None else add(build)


# Shared argument kinds of several builders.
def dropout_arg(default: float, source: str) -> ModelArg:
    """Return a dropout-probability argument in [0, 1) whose help cites ``source`` for ``default``."""
    return ModelArg(float, default, f"dropout probability before the classifier's linear layers ({source})",
                    minimum=0.0, below=1.0)


__all__ = ["ModelArg", "ModelEntry", "check_args", "describe_args", "dropout_arg", "register_model"]
