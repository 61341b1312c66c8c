"""Transient stuck-at faults: faulty cells read a stuck value, fresh per seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sram_models.faults.base import (
    FAULT_MODELS,
    FaultModel,
    FaultResult,
    _check_fraction,
    _uniform_rates,
)
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@FAULT_MODELS.register("stuck-at")
@dataclass
class StuckAt(FaultModel):
    """Transient stuck-at faults: each cell is faulty with probability ``2 x ber`` and then
    reads a stuck value (1 with probability ``stuck_at_one``), so about half of the faulty
    cells change a read and ``ber`` of random data's bits read wrong.  Fresh per seed (for
    a persistent chip use ChipFaultMap)."""

    _stuck = True
    options: ClassVar[frozenset[str]] = frozenset({"protect_msb", "stuck_at_one"})
    ber: float | None = None
    """probability that a stored bit reads wrong (<= 0.5); faulty cells: 2 x ber"""
    technology: Technology | None = None
    stuck_at_one: float = 0.5
    """share of faulty cells stuck at 1 (the rest at 0); 0.5 = no bias known"""
    protect_msb: float = 0.0

    def __post_init__(self) -> None:
        self._init_rate()
        self.stuck_at_one = _check_fraction(self.stuck_at_one, "stuck_at_one")

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        rates = _uniform_rates(image.layout.bits, self.rate(voltage))
        return self._sample(image, seed, rates, stuck=True, stuck_one=self.stuck_at_one)
