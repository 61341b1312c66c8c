"""Fault models: what a read of a faulty SRAM returns (the convention: :mod:`sram_models.faults.base`).

One file per model; each registers its class in :data:`FAULT_MODELS` where it defines it.
Importing this package imports every module in it (the known ones first, in the order users
see them, then any other), so a new model is one new file and every list of names, the
CLI's choices and the conformance tests pick it up.  Kernels (numba) load only on the first
``corrupt``.
"""

from __future__ import annotations

import importlib
import pkgutil

from sram_models.faults.base import (
    FAULT_MODEL_NAMES,
    FAULT_MODELS,
    FaultModel,
    FaultResult,
    kernel_seed,
    make_fault_model,
    read_back,
)

# the order users see in lists of names (help texts, errors); further modules follow by name
_ORDER = ("transient", "chip", "stuck_at", "asymmetric", "bit_position", "column")
_SKIP = {"base"}
for _module in (*_ORDER, *sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _ORDER)):
    if _module not in _SKIP:
        importlib.import_module(f"{__name__}.{_module}")

from sram_models.faults.asymmetric import AsymmetricTransient  # noqa: E402
from sram_models.faults.bit_position import BitPositionTransient  # noqa: E402
from sram_models.faults.chip import ChipFaultMap  # noqa: E402
from sram_models.faults.column import ColumnFailures  # noqa: E402
from sram_models.faults.measured import MeasuredFaultMap  # noqa: E402
from sram_models.faults.stuck_at import StuckAt  # noqa: E402
from sram_models.faults.transient import Transient  # noqa: E402

__all__ = [
    "FAULT_MODELS",
    "FAULT_MODEL_NAMES",
    "AsymmetricTransient",
    "BitPositionTransient",
    "ChipFaultMap",
    "ColumnFailures",
    "FaultModel",
    "FaultResult",
    "MeasuredFaultMap",
    "StuckAt",
    "Transient",
    "kernel_seed",
    "make_fault_model",
    "read_back",
]
