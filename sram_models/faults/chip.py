"""A persistent chip fault map: the seed is the chip, faults nest across voltage."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sram_models.errors import InputError
from sram_models.faults.base import (
    FAULT_MODELS,
    FaultModel,
    FaultResult,
    _capacity,
    _check_fraction,
    kernel_seed,
)
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@FAULT_MODELS.register("chip")
@dataclass
class ChipFaultMap(FaultModel):
    """Persistent faults of one simulated chip (the seed is the chip).

    Each cell has one fixed uniform draw; it is faulty at voltage V iff its draw is
    below the faulty-cell rate ``technology.faulty_cell_rate(V)`` (or ``2 x ber``), and
    stuck at 1 with probability ``stuck_at_one`` (else 0), that value drawn once per
    cell too.  The voltage only sets the threshold, so the
    faulty set at a lower voltage contains the one at any higher voltage (nested).

    Only cells whose draw is below the highest rate the chip can see (the faulty-cell
    rate at ``technology.v_low``, or ``2 x ber``) are drawn, sparsely, and kept sorted by draw
    per (seed, image size) in a small cache: sweeping a chip over voltages selects
    a prefix and never redraws.  The draws of a seed depend on that highest rate
    (a property of the technology) and on the cell; an image with more cells sees
    the same faults in its first cells.
    """

    _stuck = True
    options: ClassVar[frozenset[str]] = frozenset({"protect_msb", "stuck_at_one", "cache_size"})
    nested: ClassVar[bool] = True
    technology: Technology | None = None
    stuck_at_one: float = 0.5
    """share of faulty cells stuck at 1; 0.5 = no bias known (the issue's default split)"""
    ber: float | None = None
    """fixed bit error probability instead of a technology (faulty cells 2 x ber; voltage ignored)"""
    protect_msb: float = 0.0
    cache_size: int = 64
    """chips (seeds) whose draws are kept; a Monte Carlo over 20 chips fits"""

    def __post_init__(self) -> None:
        self._init_rate()
        self.stuck_at_one = _check_fraction(self.stuck_at_one, "stuck_at_one")
        if not isinstance(self.cache_size, int) or self.cache_size < 1:
            raise InputError(f"cache_size={self.cache_size!r}: must be a positive integer")
        self._cache: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    @property
    def max_rate(self) -> float:
        """The highest faulty-cell rate this chip can be asked for."""
        if self.technology is None:
            return 2.0 * float(self.ber)  # type: ignore[arg-type]
        return float(self.technology.faulty_cell_rate(self.technology.v_low))

    def draws(self, seed: int, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chip's weak cells sorted by draw: (positions, draws, stuck values)."""
        from sram_models import _kernels

        key = (int(seed), int(n_cells))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        p_max = self.max_rate
        positions, draws, values = _kernels._chip_cells(
            kernel_seed(seed, stream=1), n_cells, p_max, self.stuck_at_one, _capacity(n_cells, p_max)
        )
        order = np.argsort(draws, kind="stable")
        entry = (positions[order], draws[order], values[order])
        self._cache[key] = entry
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return entry

    def faulty_positions(self, image: MemoryImage, seed: int, voltage: float | None = None) -> np.ndarray:
        """Cells faulty at this voltage (unsorted), before sign protection."""
        positions, draws, _ = self.draws(seed, image.n_bits)
        return positions[: int(np.searchsorted(draws, self.rate(voltage), side="left"))]

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        positions, draws, values = self.draws(seed, image.n_bits)
        k = int(np.searchsorted(draws, self.rate(voltage), side="left"))
        return self._apply(image, positions[:k], values[:k], already_sorted=False)

    def __getstate__(self) -> dict[str, Any]:
        # Ship the model, not its cache, to other processes (Dask workers redraw what they need).
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        return state
