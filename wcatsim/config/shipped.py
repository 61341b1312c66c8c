"""Where the shipped config layers are: ``configs/`` of a checkout, ``wcatsim/_configs`` of a wheel.

The README's commands name layers as ``-c configs/quantization/4bit_wcat.toml``.  Run from the
checkout that path exists; run from anywhere else (an installed wheel) a relative ``configs/...`` path
that does not exist is looked up among the shipped layers, and when it is not there either, the error
says where they are.
"""

from __future__ import annotations

from pathlib import Path

from wcatsim.errors import ConfigError

PREFIX = "configs"  # how the README and the docs spell the folder


def configs_dir() -> Path | None:
    """The shipped config layers (None when neither the wheel's copy nor the checkout's is there)."""
    package = Path(__file__).resolve().parent.parent  # wcatsim/
    for candidate in (package / "_configs", package.parent / PREFIX):
        if candidate.is_dir():
            return candidate
    return None


def find_layer(path: str | Path) -> Path:
    """``path`` if it is a file; else, for a relative path, the shipped layer of that name; else a
    :class:`ConfigError` that names where the shipped layers are."""
    path = Path(path)
    if path.is_file():
        return path
    shipped = configs_dir()
    if shipped is not None and not path.is_absolute():
        parts = path.parts[1:] if path.parts[:1] == (PREFIX,) else path.parts
        candidate = shipped.joinpath(*parts) if parts else None
        if candidate is not None and candidate.is_file():
            return candidate
    if shipped is None:
        where = "the shipped layers are missing from this installation; reinstall wcatsim"
    else:
        example = shipped / "quantization" / "4bit_wcat.toml"
        where = f"the shipped layers are in {shipped} (e.g. -c {example})"
    raise ConfigError(f"config file {path} does not exist; {where}")


__all__ = ["configs_dir", "find_layer"]
