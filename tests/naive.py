"""Slow, obvious reference implementations: every fast kernel is tested against one.

Written for clarity, not speed: plain Python/NumPy loops that anyone can check
by reading.  One section per area; each section is owned by the area's module.
"""

from __future__ import annotations

import numpy as np  # noqa: F401

# ---------------------------------------------------------------- sram_models: packing, faults, ECC, energy


# ---------------------------------------------------------------- wcatsim.quant: quantizers


# ---------------------------------------------------------------- wcatsim.faults / montecarlo


# ---------------------------------------------------------------- wcatsim.attacks: bit-flip attack search


# ---------------------------------------------------------------- wcatsim.pareto: Pareto front
