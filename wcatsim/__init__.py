"""The network: quantizers, models, data, training, faults on models, attacks, sweeps, plots.

Public names are imported lazily so that
``import wcatsim.atomic`` (used by the CLI) does not load torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import Any

# public name -> submodule that defines it (filled in by the modules' owners)
_EXPORTS: dict[str, str] = {
    "InputError": "wcatsim.errors",
    "ConfigError": "wcatsim.errors",
    "CheckpointError": "wcatsim.errors",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wcatsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


__all__ = sorted(_EXPORTS)
