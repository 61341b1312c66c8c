"""The registries whose names settings take.

They are declared here so the schema can check a name without importing the variants (torch); the
variants fill them where they are defined (see :class:`sram_models.registry.Registry`).
"""

from __future__ import annotations

from sram_models.registry import Registry

# data.name: a loader (root, seed, val_fraction, **options) -> DatasetBundle per dataset format
DATASETS: Registry = Registry("dataset", homes=("wcatsim.train.datasets",), setting="data.name")
# model.name: a model builder per architecture (wcatsim.train.models.registry)
MODELS: Registry = Registry("model", homes=("wcatsim.train.models",), setting="model.name")

# quant.method: a quantizer per method (wcatsim.train.quant.quantizers)
QUANTIZERS: Registry = Registry("quantizer", homes=("wcatsim.train.quant",), setting="quant.method")

__all__ = ["DATASETS", "MODELS", "QUANTIZERS"]
