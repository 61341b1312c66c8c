"""Shipped SRAM presets: kept as a name; the code is :mod:`sram_models.technology.presets`."""

from sram_models.technology.presets import (
    PRESET_SUFFIXES,
    TABLE_COLUMNS,
    TECHNOLOGIES,
    PresetInfo,
    list_presets,
    load_technology,
    presets_dir,
)

__all__ = [
    "PRESET_SUFFIXES", "TABLE_COLUMNS", "TECHNOLOGIES", "PresetInfo", "list_presets", "load_technology",
    "presets_dir",
]
