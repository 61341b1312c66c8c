"""Transient flips: every cell flips independently with the bit error probability."""

from __future__ import annotations

from dataclasses import dataclass

from sram_models.faults.base import (
    FAULT_MODELS,
    FaultModel,
    FaultResult,
    _capacity,
    _uniform_rates,
    kernel_seed,
)
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@FAULT_MODELS.register("transient")
@dataclass
class Transient(FaultModel):
    """Every cell flips independently with probability ``ber`` in one draw.

    One draw = one realisation, held for every inference that reads it (as the
    WCAT paper evaluates); for a redraw per read, call ``corrupt`` with a fresh seed
    per read.  Check bits and unused cells of the last word flip too (they are cells).
    """

    ber: float | None = None
    """flip probability per cell: the probability that a stored bit reads wrong"""
    technology: Technology | None = None
    """take the rate from technology.bit_error_rate(voltage)"""
    protect_msb: float = 0.0
    """fraction of weights whose sign bit never fails (see module docstring)"""

    def __post_init__(self) -> None:
        self._init_rate()

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        from sram_models import _kernels

        self._check_image(image, voltage)
        p = self.rate(voltage)
        if self._sign_fraction(image) > 0:
            return self._sample(image, seed, _uniform_rates(image.layout.bits, p), stuck=False)
        lay = image.layout
        words = image.words.copy()
        positions, weight_flips = _kernels._flip_uniform_inplace(
            kernel_seed(seed),
            p,
            words,
            lay.phys_bits,
            lay.bits,
            lay.weights_per_word,
            image.n_weights,
            _capacity(image.n_bits, p),
        )
        if not lay.scheme.reports:  # every flip changes its cell; no scheme: the counts are known already
            return FaultResult(image.with_words(words), positions.size, int(weight_flips), positions.size)
        return self._finish(image, words, positions, positions.size)
