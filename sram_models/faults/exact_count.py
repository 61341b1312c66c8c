"""Exactly ``k`` distinct weight bits flip, uniformly and seeded: the bit-flip attack's random baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sram_models.errors import InputError
from sram_models.faults.base import FAULT_MODELS, FaultModel, FaultResult, _check_rate
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@FAULT_MODELS.register("exact-count")
@dataclass
class ExactCount(FaultModel):
    """Exactly ``count`` distinct weight bits flip, uniformly over all weight bits (seeded).

    Give ``count`` (flips per realisation), or ``ber`` or ``technology`` (then ``count = round(ber x
    weight bits)``, with ber the technology's ``bit_error_rate`` at the call's voltage, so the share
    of weight bits that read wrong is ber up to rounding).  Only weight bits
    flip (no check bits, no padding): it is the "same number of flips at random places"
    baseline of the bit-flip attack.  The draw is ``numpy.random.default_rng(seed).choice``
    over the weight bits in memory order (weight ``i``, bit ``b`` -> ``i x bits + b``), so
    ``seed`` may be an int or a sequence of ints.
    """

    options: ClassVar[frozenset[str]] = frozenset({"protect_msb", "count"})

    count: int | None = None
    """distinct weight bits flipped per realisation (capped at the number of weight bits)"""
    ber: float | None = None
    """share of the weight bits to flip instead of a count"""
    protect_msb: float = 0.0
    technology: Technology | None = None

    def __post_init__(self) -> None:
        given = (self.count is not None) + (self.ber is not None) + (self.technology is not None)
        if given != 1:
            raise InputError("ExactCount needs one of count= (flips per realisation), ber= or technology=")
        if self.count is not None:
            whole = isinstance(self.count, (int, np.integer)) and not isinstance(self.count, bool)
            if not whole or self.count < 0:
                raise InputError(f"count={self.count!r}: give a non-negative number of bit flips")
            self.count = int(self.count)
            self.protect_msb = _check_rate(self.protect_msb, "protect_msb")
        else:
            self._init_rate()

    def n_flips(self, n_bits: int, voltage: float | None = None) -> int:
        """Flips among ``n_bits`` weight bits (at ``voltage`` when the rate follows a technology)."""
        if self.count is not None:
            return min(self.count, int(n_bits))
        return min(int(round(self.bit_error_rate(voltage) * n_bits)), int(n_bits))

    def positions(self, n_bits: int, seed: int | Sequence[int], voltage: float | None = None) -> np.ndarray:
        """The flipped weight-bit indices (distinct, in draw order) among ``n_bits``."""
        k = self.n_flips(n_bits, voltage)
        if k <= 0:
            return np.zeros(0, np.int64)
        return np.random.default_rng(seed).choice(int(n_bits), size=k, replace=False).astype(np.int64)

    def flip_masks(
        self, sizes: Mapping[str, int], bits: Mapping[str, int], seed: int | Sequence[int]
    ) -> dict[str, np.ndarray]:
        """Per layer (``sizes``: weights per layer, in memory order), an int64 XOR mask per weight.

        Parameters
        ----------
        sizes : mapping of str to int
            Weights per layer, in memory order.
        bits : mapping of str to int
            Bits per weight of each layer.
        seed : int or sequence of int
            The realisation.

        Returns
        -------
        dict of str to numpy.ndarray
            XOR masks (one int64 per weight; two drawn bits of one weight are both set).
        """
        names = list(sizes)
        counts = np.array([int(sizes[n]) * int(bits[n]) for n in names], np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        drawn = self.positions(int(offsets[-1]), seed)
        layer_of = np.searchsorted(offsets, drawn, side="right") - 1
        masks = {}
        for li, name in enumerate(names):
            local = drawn[layer_of == li] - offsets[li]
            mask = np.zeros(int(sizes[name]), np.int64)
            np.add.at(mask, local // bits[name], np.left_shift(np.int64(1), local % bits[name]))
            masks[name] = mask
        return masks

    def weight_bit_error_rates(self, bits: int, voltage: float | None = None) -> np.ndarray:
        """ber on every weight bit (with ``count`` the rate depends on the image: an error)."""
        if self.count is not None:
            raise InputError("ExactCount(count=...) has no rate of its own: it flips count bits of any image")
        return np.full(bits, self.bit_error_rate(voltage), np.float64)

    def corrupt(self, image: MemoryImage, seed: Any, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        lay = image.layout
        drawn = self.positions(image.n_weights * lay.bits, seed, voltage)
        weight, bit = np.divmod(drawn, lay.bits)
        word, slot = np.divmod(weight, lay.weights_per_word)
        cells = word * lay.phys_bits + slot * lay.bits + bit
        lane, offset = np.divmod(cells - word * lay.phys_bits, 64)
        stored = (image.words[word, lane] >> offset.astype(np.uint64)) & np.uint64(1)
        return self._apply(image, cells, (1 - stored).astype(np.uint8), already_sorted=False)
