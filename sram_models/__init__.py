"""The memory: SRAM technologies, word layouts, fault models, ECC and energy.

Torch-free (numpy, scipy, numba).  Public names are imported lazily so that
``import sram_models.errors`` (used by the CLI) does not load numba.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule that defines it (filled in by the modules' owners)
_EXPORTS: dict[str, str] = {
    "InputError": "sram_models.errors",
    "data_dir": "sram_models.paths",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sram_models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


__all__ = sorted(_EXPORTS)
