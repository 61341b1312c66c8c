"""SRAM technologies: the kinds (a Gaussian cell model, tabulated measurements, a weight-buffer
macro; :mod:`.base` holds what every kind shares and the conventions) and the shipped presets
(:data:`TECHNOLOGIES`)."""

from __future__ import annotations

from sram_models.technology.base import BER_MEANINGS, THERMAL_VOLTAGE, Technology
from sram_models.technology.gaussian import GaussianCellModel
from sram_models.technology.macro import WeightMacroModel, fit_leakage_v0
from sram_models.technology.presets import (
    TECHNOLOGIES,
    PresetInfo,
    list_presets,
    load_technology,
    presets_dir,
)
from sram_models.technology.tabulated import TabulatedTechnology

__all__ = [
    "BER_MEANINGS",
    "TECHNOLOGIES",
    "THERMAL_VOLTAGE",
    "GaussianCellModel",
    "PresetInfo",
    "TabulatedTechnology",
    "Technology",
    "WeightMacroModel",
    "fit_leakage_v0",
    "list_presets",
    "load_technology",
    "presets_dir",
]
