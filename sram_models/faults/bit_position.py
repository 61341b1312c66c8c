"""Transient flips with a rate per bit position of the weight (the ``msb`` model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sram_models.errors import InputError
from sram_models.faults.base import (
    FAULT_MODELS,
    FaultModel,
    FaultResult,
    _check_fraction,
    _check_rate,
)
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@FAULT_MODELS.register("msb")
@dataclass
class BitPositionTransient(FaultModel):
    """Transient flips with a rate per bit position of the weight.

    ``rates`` lists LSB..sign bit (length = the layout's bits).  Or give ``ber`` (or
    ``technology``) for every bit and ``sign_ber`` for the sign bit (0 = protected).
    Cells that hold no weight bit (check bits, unused cells) flip with ``other_rate``
    (default: ``ber``, or the mean of ``rates``).
    """

    options: ClassVar[frozenset[str]] = frozenset({"protect_msb", "sign_ber", "other_rate"})

    rates: tuple[float, ...] | None = None
    ber: float | None = None
    sign_ber: float | None = None
    """rate of the sign bit when ``rates`` is not given (None = same as the others)"""
    other_rate: float | None = None
    technology: Technology | None = None
    protect_msb: float = 0.0

    def __post_init__(self) -> None:
        if self.rates is not None:
            if self.ber is not None or self.technology is not None:
                raise InputError("BitPositionTransient: give rates= or ber=/technology=, not both")
            self.rates = tuple(_check_rate(r, f"rates[{i}]") for i, r in enumerate(self.rates))
            if not self.rates:
                raise InputError("BitPositionTransient: rates is empty (one rate per weight bit, LSB first)")
            self.protect_msb = _check_fraction(self.protect_msb, "protect_msb")
        else:
            self._init_rate()
        if self.sign_ber is not None:
            self.sign_ber = _check_rate(self.sign_ber, "sign_ber")
        if self.other_rate is not None:
            self.other_rate = _check_rate(self.other_rate, "other_rate")

    @classmethod
    def from_settings(cls, *, ber: float | None = None, technology: Technology | None = None,
                      **options: Any) -> BitPositionTransient:
        """``msb``: ``ber`` on every bit, ``sign_ber`` on the sign bit (default 0: protected)."""
        options.setdefault("sign_ber", 0.0)
        return cls(ber=ber, technology=technology, **options)

    def class_rates(self, bits: int, voltage: float | None) -> np.ndarray:
        out = np.empty((bits + 2, 2), np.float64)
        if self.rates is not None:
            if len(self.rates) != bits:
                raise InputError(
                    f"BitPositionTransient has {len(self.rates)} rates; the image has {bits}-bit "
                    f"weights: give one rate per bit, LSB first"
                )
            per_bit = np.asarray(self.rates, np.float64)
            other = float(np.mean(per_bit)) if self.other_rate is None else self.other_rate
        else:
            p = self.rate(voltage)
            per_bit = np.full(bits, p)
            if self.sign_ber is not None:
                per_bit[-1] = self.sign_ber
            other = p if self.other_rate is None else self.other_rate
        out[:bits, :] = per_bit[:, None]
        out[bits:, :] = other
        return out

    def weight_bit_error_rates(self, bits: int, voltage: float | None = None) -> np.ndarray:
        """The per-position flip rates (a flip always reads wrong)."""
        return self.class_rates(bits, voltage)[:bits, 0].copy()

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        return self._sample(image, seed, self.class_rates(image.layout.bits, voltage), stuck=False)
