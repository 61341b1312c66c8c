"""Asymmetric transient flips: 1 -> 0 and 0 -> 1 with their own probabilities."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@FAULT_MODELS.register("asymmetric")
@dataclass
class AsymmetricTransient(FaultModel):
    """A stored 1 reads 0 with probability ``p10``; a stored 0 reads 1 with ``p01``.

    With ``technology=``, the two keep the convention's mean on random data,
    (p10 + p01) / 2 = ``technology.bit_error_rate(V)``, split as p01 = ``p01_share`` x p10.
    """

    options: ClassVar[frozenset[str]] = frozenset({"protect_msb", "p01", "p01_share"})

    p01: float = 0.0
    """0 -> 1 flip probability per cell storing 0"""
    p10: float = 0.0
    """1 -> 0 flip probability per cell storing 1"""
    technology: Technology | None = None
    p01_share: float = 0.0
    """with technology: p01 = p01_share x p10, set so that (p10 + p01)/2 = technology.bit_error_rate(V)"""
    protect_msb: float = 0.0
    ber: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.p01 = _check_rate(self.p01, "p01")
        self.p10 = _check_rate(self.p10, "p10")
        self.p01_share = _check_fraction(self.p01_share, "p01_share")
        self.protect_msb = _check_fraction(self.protect_msb, "protect_msb")
        if self.technology is not None and not isinstance(self.technology, Technology):
            raise InputError("technology must be a Technology (load_technology(...))")

    @classmethod
    def from_settings(cls, *, ber: float | None = None, technology: Technology | None = None,
                      **options: Any) -> AsymmetricTransient:
        """``asymmetric``: the mean (p10 + p01) / 2 = ber, split by ``p01_share`` = p01 / p10 (default 0:
        p10 = 2 ber, only 1 -> 0 errors) or by a fixed ``p01`` (then p10 = 2 ber - p01)."""
        if technology is None and ber is None:
            raise InputError("AsymmetricTransient needs ber= (the mean bit error probability) or technology=")
        if technology is not None and ber is not None:
            raise InputError("AsymmetricTransient: give ber= or technology=, not both")
        if technology is not None:
            if "p01" in options:
                raise InputError(
                    "asymmetric with a technology: use p01_share (p01 = share x p10), not p01"
                )
            return cls(technology=technology, **options)
        mean = _check_rate(ber, "ber")
        if "p01" in options:
            p01 = _check_rate(options.pop("p01"), "p01")
            p10 = 2.0 * mean - p01
            if not 0.0 <= p10 <= 1.0:
                raise InputError(
                    f"asymmetric: ber={mean:g} is the mean (p10 + p01) / 2; with p01={p01:g} that needs "
                    f"p10={p10:g}, outside [0, 1]: choose p01 <= 2 ber"
                )
        else:
            share = _check_fraction(options.pop("p01_share", 0.0), "p01_share")
            p10 = 2.0 * mean / (1.0 + share)
            if p10 > 1.0:
                raise InputError(
                    f"asymmetric: ber={mean:g} with p01_share={share:g} needs p10={p10:g} > 1: "
                    "lower ber or raise p01_share"
                )
            p01 = share * p10
        return cls(p01=p01, p10=p10, **options)

    def rates(self, voltage: float | None) -> tuple[float, float]:
        """(p01, p10) of this call."""
        if self.technology is None:
            return self.p01, self.p10
        p10 = 2.0 * float(self.technology.bit_error_rate(self._voltage(voltage))) / (1.0 + self.p01_share)
        if p10 > 1.0:
            raise InputError(
                f"AsymmetricTransient: {self.technology.name} at {voltage:g} needs p10 = {p10:g} > 1 "
                "for its bit error rate with this p01_share: raise p01_share"
            )
        return self.p01_share * p10, p10

    def bit_error_rate(self, voltage: float | None = None) -> float:
        """(p01 + p10) / 2: random data stores 0 and 1 equally often."""
        p01, p10 = self.rates(voltage)
        return (p01 + p10) / 2.0

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        p01, p10 = self.rates(voltage)
        rates = np.empty((image.layout.bits + 2, 2), np.float64)
        rates[:, 0], rates[:, 1] = p01, p10
        return self._sample(image, seed, rates, stuck=False)
