"""The memory: SRAM technologies, word layouts, fault models, ECC and energy.

Torch-free (numpy, scipy, numba).  Public names are imported lazily so that
``import sram_models.errors`` (used by the CLI) does not load numba.
"""

from __future__ import annotations

from sram_models.lazy import lazy_exports

# public name -> submodule that defines it (filled in by the modules' owners)
_EXPORTS: dict[str, str] = {
    "InputError": "sram_models.errors",
    "data_dir": "sram_models.paths",
    "Technology": "sram_models.technology",
    "GaussianCellModel": "sram_models.technology",
    "TabulatedTechnology": "sram_models.technology",
    "load_technology": "sram_models.technology",
    "list_presets": "sram_models.technology",
    "PresetInfo": "sram_models.technology",
    "presets_dir": "sram_models.technology",
    "TECHNOLOGIES": "sram_models.technology",
    "WordLayout": "sram_models.layout",
    "MemoryImage": "sram_models.layout",
    "secded_check_bits": "sram_models.protection.registry",
    "FaultModel": "sram_models.faults",
    "FaultResult": "sram_models.faults",
    "Transient": "sram_models.faults",
    "StuckAt": "sram_models.faults",
    "ChipFaultMap": "sram_models.faults",
    "AsymmetricTransient": "sram_models.faults",
    "BitPositionTransient": "sram_models.faults",
    "ColumnFailures": "sram_models.faults",
    "make_fault_model": "sram_models.faults",
    "FAULT_MODEL_NAMES": "sram_models.faults",
    "read_back": "sram_models.faults",
    "FAULT_MODELS": "sram_models.faults",
    "SCHEME_NAMES": "sram_models.protection",
    "PROTECTION_SCHEMES": "sram_models.protection",
    "ProtectionCost": "sram_models.protection",
    "protection_cost": "sram_models.protection",
    "resolve_scheme": "sram_models.protection",
    "ChipMeasurement": "sram_models.faults.measured",
    "MeasuredFaultMap": "sram_models.faults",
    "import_listing": "sram_models.faults.measured",
    "EnergyReport": "sram_models.energy",
    "inference_energy": "sram_models.energy",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
