"""Whole-column failures: a failed column's cells are stuck (a stress model: no voltage source)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sram_models.errors import InputError
from sram_models.faults.base import (
    FAULT_MODELS,
    FaultModel,
    FaultResult,
    _capacity,
    _check_fraction,
    _check_rate,
    _check_stuck_ber,
    kernel_seed,
)
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@FAULT_MODELS.register("column")
@dataclass
class ColumnFailures(FaultModel):
    """Whole-column failures: each column of each ``rows``-row array fails with
    probability ``column_rate`` (or, with a technology, its faulty-cell rate
    ``technology.faulty_cell_rate(V)``) and then reads a constant (stuck at 1 with
    probability ``stuck_at_one``).  The expected faulty-cell rate equals the column
    rate (``make_fault_model("column", ber=b)`` uses 2b: stuck cells read wrong half
    the time); with ``interleave > 1`` a column holds one bit position of every
    ``interleave``-th word, so SECDED sees at most one error per word.

    A stress model: no source gives a column failure rate versus voltage, so with a technology the
    cell curve's faulty-cell rate is used as the column rate, an assumption that tests how a layout
    and a scheme bear clustered failures, not a prediction for any measured array."""

    _stuck = True
    options: ClassVar[frozenset[str]] = frozenset({"protect_msb", "stuck_at_one"})
    column_rate: float | None = None
    """probability that a column fails (its cells are then stuck): a faulty-cell rate, not a ber"""
    technology: Technology | None = None
    stuck_at_one: float = 0.5
    protect_msb: float = 0.0

    def __post_init__(self) -> None:
        if self.technology is None and self.column_rate is not None:
            self.column_rate = _check_rate(self.column_rate, "column_rate")
            # the base class stores the convention's ber: half the faulty-cell rate
            self.ber = self.column_rate / 2.0
        else:
            self.ber = self.column_rate
        self._init_rate()
        self.stuck_at_one = _check_fraction(self.stuck_at_one, "stuck_at_one")

    @classmethod
    def from_settings(cls, *, ber: float | None = None, technology: Technology | None = None,
                      **options: Any) -> ColumnFailures:
        """``column``: whole columns fail with probability 2 ber (stuck cells read wrong half the time)."""
        if technology is None:
            if ber is None:
                raise InputError("ColumnFailures needs ber= (a probability) or technology=")
            return cls(column_rate=2.0 * _check_stuck_ber(_check_rate(ber, "ber"), "column"), **options)
        if ber is not None:
            raise InputError("ColumnFailures: give ber= or technology=, not both")
        return cls(technology=technology, **options)

    def rate(self, voltage: float | None = None) -> float:
        """The column failure probability of this call."""
        if self.technology is None:
            return float(self.column_rate)  # type: ignore[arg-type]
        return float(self.technology.faulty_cell_rate(self._voltage(voltage)))

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        from sram_models import _kernels

        self._check_image(image, voltage)
        lay = image.layout
        rate = self.rate(voltage)
        arrays = -(-image.n_words // (lay.rows * lay.interleave))
        expected = arrays * lay.phys_bits * lay.interleave * rate * lay.rows
        positions, values = _kernels._column_cells(
            kernel_seed(seed),
            image.n_words,
            lay.phys_bits,
            lay.rows,
            lay.interleave,
            rate,
            self.stuck_at_one,
            _capacity(int(expected) + 1, 1.0),
        )
        return self._apply(image, positions, values, already_sorted=False)
