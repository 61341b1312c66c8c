"""Measured chips (fault maps read from files): the code is :mod:`sram_models.faults.measured`."""

from sram_models.faults.measured import (
    FORMAT,
    ChipMeasurement,
    MeasuredFaultMap,
    import_listing,
    map_onto_image,
)

__all__ = ["FORMAT", "ChipMeasurement", "MeasuredFaultMap", "import_listing", "map_onto_image"]
