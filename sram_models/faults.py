"""Fault models: what a read of a faulty SRAM returns.

Every model has one call, ``corrupt(image, seed, voltage=None) -> FaultResult``:
a copy of the packed words with the faults applied (the input image is never
modified), the decoded codes (after SECDED correction when the layout has it),
and counts that keep *faulty cells* apart from *bits actually changed*.

A model's fault rate is either fixed (``ber=``) or set by a technology at the
voltage of the call (``technology=``; then ``voltage`` is required and outside
the technology's range is an error).  Sampling is sparse: work ∝ number of
faults (geometric skips in ``_kernels``), never ∝ number of cells.

**One bit-error convention.**  ``ber`` is always the probability that a stored
bit of random data reads wrong, and a technology gives it as
``Technology.bit_error_rate(V)`` (its curve converted by its ``ber_meaning``).
Flip models (``Transient``, ``BitPositionTransient``) flip each cell with that
probability.  Stuck models (``ChipFaultMap``, ``StuckAt``, and the cells of a
failed column in ``ColumnFailures``) make a cell faulty with probability
``2 x ber`` (``Technology.faulty_cell_rate(V)``): a faulty cell is stuck at 0 or
1 and reads wrong only when it stores the other value, half the time on random
data, whatever the stuck split.  So at one voltage or one ``ber`` every model
changes the same expected number of bits of random data; ``ber > 0.5`` is
refused by the stuck models (more than every cell faulty).
``AsymmetricTransient`` with ``ber=`` (or a technology) keeps that mean:
``(p10 + p01) / 2 = ber``.  On real weights, whose bits are not 50/50, the
stuck models change fewer or more bits than the flip models: the tables report
the measured ``flip_rate`` beside ``ber``.

Sign-bit protection (``protect_msb=f``, issue 4's ``--protect-msb``): the sign
bits of an evenly spread fraction ``f`` of the weights, in memory order, never
fail (weight i is protected when floor((i+1) f) > floor(i f); f=1 protects every
sign bit, f=0.5 every other weight's).  It models a hardened (e.g. 8T or
separately supplied) column for part of the sign bits; being seed-free and
spread evenly, every layer gets the same share and every realisation the same
protected set.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sram_models.errors import InputError
from sram_models.layout import MemoryImage
from sram_models.technology import Technology

_MASK64 = (1 << 64) - 1


def kernel_seed(seed: int, stream: int = 0) -> np.uint64:
    """The kernels' 64-bit SplitMix64 starting state from a non-negative seed and a stream number.

    (seed, stream) go through the SplitMix64 finaliser so that nearby seeds start far
    apart and each model family (stream) draws independently of the others; cheap
    (a microsecond), since it runs once per realisation."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    x = (int(seed) * 0x9E3779B97F4A7C15 + (int(stream) + 1) * 0xD1B54A32D192ED03) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return np.uint64(x ^ (x >> 31))


def _capacity(n: int, p: float) -> int:
    # Expected count plus 6 standard deviations: the kernels grow the buffer if ever needed.
    mean = n * p
    return int(mean + 6.0 * math.sqrt(mean + 1.0) + 16)


def _check_rate(value: Any, name: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise InputError(f"{name}={value!r} is outside [0, 1]: give a probability")
    return rate


def _check_fraction(value: Any, name: str) -> float:
    return _check_rate(value, name)


@dataclass
class FaultResult:
    """One realisation: the corrupted image and what it did."""

    image: MemoryImage
    """corrupted image (raw cell values, before the protection scheme's read; bit-mask: with the
    detector's flags)"""
    faulty_cells: int
    """cells faulty in this draw (flipped, stuck, or in a failed column), check bits included"""
    bits_changed: int
    """weight bits whose read value (through the protection scheme) differs from the stored one"""
    cells_changed: int
    """cells whose stored value differs from the clean image (before ECC)"""
    ecc_corrected: int = 0
    """words the protection scheme corrected, whose weights then read right (0 without protection)"""
    ecc_detected: int = 0
    """words the scheme flagged as uncorrectable: returned as read (secded), read as zero
    (secded-zero, parity-zero), or with masked bits (bit-mask)"""
    ecc_miscorrected: int = 0
    """words whose weights read wrong although the scheme flagged nothing: a wrong SECDED
    correction, an undetected error (three or more errors; even errors under parity), or any
    error under a scheme without detection (msb-8t).  The simulator knows the stored word."""
    _codes: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def codes(self) -> dict[str, np.ndarray]:
        """``image.unpack()``: int16 codes per layer as the protection scheme reads them (computed once)."""
        if self._codes is None:
            self._codes = self.image.unpack()
        return self._codes


def _check_stuck_ber(ber: float, model: str) -> float:
    if ber > 0.5:
        raise InputError(
            f"{model}: ber={ber:g} is the probability that a stored bit reads wrong; a stuck cell reads "
            "wrong half the time on random data, so above 0.5 more than every cell would have to fail: "
            "use ber <= 0.5 (or the transient model)"
        )
    return ber


def _read_result(
    image: MemoryImage, words: np.ndarray, sorted_positions: np.ndarray, faulty_cells: int
) -> FaultResult:
    """The result of reading ``words`` (the cells as they read) through ``image``'s scheme, with its
    counts against ``image`` (the stored words), over the words touched by ``sorted_positions``."""
    from sram_models import _kernels
    from sram_models.protection import POLICY_BIT_MASK

    lay = image.layout
    hpos, phys_of_hpos = image.hamming_tables if lay.ecc == "secded" else (_EMPTY, _EMPTY)
    bit_mask = lay.policy == POLICY_BIT_MASK
    flags = np.zeros_like(words) if bit_mask else _NO_FLAGS
    cells, changed, corrected, detected, miscorrected = _kernels._read_stats(
        image.words,
        words,
        sorted_positions,
        lay.phys_bits,
        lay.word_bits,
        lay.bits,
        lay.weights_per_word,
        image.n_weights,
        lay.policy,
        hpos,
        phys_of_hpos,
        flags,
    )
    if lay.protect == "none":  # no scheme: nothing corrected, flagged or miscorrected
        corrected = detected = miscorrected = 0
    return FaultResult(
        image.with_words(words, flags if bit_mask else None),
        int(faulty_cells),
        int(changed),
        int(cells),
        int(corrected),
        int(detected),
        int(miscorrected),
    )


def read_back(image: MemoryImage, words: np.ndarray) -> FaultResult:
    """What a read of ``words`` returns through ``image``'s protection scheme, and what it did.

    ``image`` is the memory as written (clean); ``words`` the same cells as they read (any errors,
    e.g. set by hand).  ``faulty_cells`` of the result counts the cells that differ (a stuck cell
    holding its stuck value is invisible here).  The bit-mask detector flags exactly those cells.
    """
    if not isinstance(image, MemoryImage):
        raise InputError(f"read_back needs the clean MemoryImage, got {type(image).__name__}")
    words = np.ascontiguousarray(words)
    if words.shape != image.words.shape or words.dtype != np.uint64:
        raise InputError(
            f"words must be uint64 of shape {image.words.shape}, got {words.dtype} {words.shape}"
        )
    touched = np.flatnonzero((words != image.words).any(axis=1)).astype(np.int64) * image.layout.phys_bits
    cells = int(np.bitwise_count(words ^ image.words).sum())
    return _read_result(image, words.copy(), touched, cells)


class FaultModel:
    """Base class: a rate from ``ber`` or from ``technology`` at the call's voltage."""

    ber: float | None
    technology: Technology | None
    protect_msb: float
    _stuck = False  # True: faulty cells are stuck, so the cell rate is 2 x the bit error probability

    def _init_rate(self) -> None:
        if self.technology is not None and not isinstance(self.technology, Technology):
            raise InputError(
                f"technology must be a Technology (load_technology(...)), got {self.technology!r}"
            )
        if self.technology is None:
            if self.ber is None:
                raise InputError(f"{type(self).__name__} needs ber= (a probability) or technology=")
            self.ber = _check_rate(self.ber, "ber")
            if self._stuck:
                _check_stuck_ber(self.ber, type(self).__name__)
        elif self.ber is not None:
            raise InputError(f"{type(self).__name__}: give ber= or technology=, not both")
        self.protect_msb = _check_fraction(self.protect_msb, "protect_msb")

    def _voltage(self, voltage: float | None) -> float:
        assert self.technology is not None
        if voltage is None:
            raise InputError(
                f"{type(self).__name__} follows {self.technology.name}: pass voltage= "
                f"({self.technology.v_low:g}..{self.technology.v_high:g} {self.technology.voltage_unit})"
            )
        return voltage

    def bit_error_rate(self, voltage: float | None = None) -> float:
        """Probability that a stored bit of random data reads wrong at this call (the convention)."""
        if self.technology is None:
            return float(self.ber)  # type: ignore[arg-type]
        return float(self.technology.bit_error_rate(self._voltage(voltage)))

    def rate(self, voltage: float | None = None) -> float:
        """The per-cell rate this call draws: the bit error probability for flip models, the faulty-cell
        probability (2 x it) for stuck models."""
        if not self._stuck:
            return self.bit_error_rate(voltage)
        if self.technology is None:
            return 2.0 * float(self.ber)  # type: ignore[arg-type]
        return float(self.technology.faulty_cell_rate(self._voltage(voltage)))

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        raise NotImplementedError

    # ------------------------------------------------------------ shared steps

    def _check_image(self, image: MemoryImage, voltage: float | None = None) -> None:
        from sram_models.protection import check_voltage

        if not isinstance(image, MemoryImage):
            raise InputError(f"corrupt() needs a MemoryImage (MemoryImage.pack), got {type(image).__name__}")
        check_voltage(image.layout.protect, getattr(self, "technology", None), voltage)

    def _sign_fraction(self, image: MemoryImage) -> float:
        # msb-8t: every sign bit sits in an 8T cell that does not fail in the voltage range it covers
        return 1.0 if image.layout.protect == "msb-8t" else float(self.protect_msb)

    @staticmethod
    def _geometry(image: MemoryImage) -> tuple[int, int, int, int, int]:
        lay = image.layout
        return lay.phys_bits, lay.word_bits, lay.bits, lay.weights_per_word, image.n_weights

    def _finish(
        self, image: MemoryImage, words: np.ndarray, sorted_positions: np.ndarray, faulty_cells: int
    ) -> FaultResult:
        return _read_result(image, words, sorted_positions, faulty_cells)

    def _apply(
        self, image: MemoryImage, positions: np.ndarray, values: np.ndarray, already_sorted: bool
    ) -> FaultResult:
        """Write ``values`` at ``positions`` (after sign protection) into a copy; collect the stats."""
        from sram_models import _kernels

        phys_bits, data_bits, bits, per_word, n_weights = self._geometry(image)
        fraction = self._sign_fraction(image)
        if fraction > 0 and positions.size:
            keep = _kernels._keep_unprotected(
                positions, phys_bits, data_bits, bits, per_word, n_weights, fraction
            )
            positions, values = positions[keep], values[keep]
        words = image.words.copy()
        _kernels._apply_values(words, positions, values, phys_bits)
        ordered = positions if already_sorted else np.sort(positions)
        return self._finish(image, words, ordered, positions.size)

    def _sample(
        self, image: MemoryImage, seed: int, class_rate: np.ndarray, stuck: bool, stuck_one: float = 0.5
    ) -> FaultResult:
        """Thinned sparse sampling with per-class, per-stored-value rates (see ``_kernels._sample_cells``)."""
        from sram_models import _kernels

        phys_bits, data_bits, bits, per_word, n_weights = self._geometry(image)
        p_max = float(class_rate.max())
        positions, values = _kernels._sample_cells(
            kernel_seed(seed),
            image.words,
            phys_bits,
            data_bits,
            bits,
            per_word,
            n_weights,
            np.ascontiguousarray(class_rate, np.float64),
            p_max,
            stuck,
            float(stuck_one),
            self._sign_fraction(image),
            _capacity(image.n_bits, p_max),
        )
        words = image.words.copy()
        _kernels._apply_values(words, positions, values, phys_bits)
        return self._finish(image, words, positions, positions.size)


_EMPTY = np.zeros(1, np.int64)
_NO_FLAGS = np.zeros((1, 1), np.uint64)


def _uniform_rates(bits: int, rate: float) -> np.ndarray:
    # rows: weight bit 0..bits-1, padding, check bits; columns: stored 0, stored 1
    return np.full((bits + 2, 2), rate, np.float64)


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
        if lay.protect == "none":  # every flip changes its cell; no scheme: the counts are known already
            return FaultResult(image.with_words(words), positions.size, int(weight_flips), positions.size)
        return self._finish(image, words, positions, positions.size)


@dataclass
class StuckAt(FaultModel):
    """Transient stuck-at faults: each cell is faulty with probability ``2 x ber`` and then
    reads a stuck value (1 with probability ``stuck_at_one``), so about half of the faulty
    cells change a read and ``ber`` of random data's bits read wrong.  Fresh per seed (for
    a persistent chip use ChipFaultMap)."""

    _stuck = True
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


@dataclass
class AsymmetricTransient(FaultModel):
    """A stored 1 reads 0 with probability ``p10``; a stored 0 reads 1 with ``p01``.

    With ``technology=``, the two keep the convention's mean on random data,
    (p10 + p01) / 2 = ``technology.bit_error_rate(V)``, split as p01 = ``p01_share`` x p10.
    """

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

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        p01, p10 = self.rates(voltage)
        rates = np.empty((image.layout.bits + 2, 2), np.float64)
        rates[:, 0], rates[:, 1] = p01, p10
        return self._sample(image, seed, rates, stuck=False)


@dataclass
class BitPositionTransient(FaultModel):
    """Transient flips with a rate per bit position of the weight.

    ``rates`` lists LSB..sign bit (length = the layout's bits).  Or give ``ber`` (or
    ``technology``) for every bit and ``sign_ber`` for the sign bit (0 = protected).
    Cells that hold no weight bit (check bits, unused cells) flip with ``other_rate``
    (default: ``ber``, or the mean of ``rates``).
    """

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

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        self._check_image(image, voltage)
        return self._sample(image, seed, self.class_rates(image.layout.bits, voltage), stuck=False)


@dataclass
class ColumnFailures(FaultModel):
    """Whole-column failures: each column of each ``rows``-row array fails with
    probability ``column_rate`` (or, with a technology, its faulty-cell rate
    ``technology.faulty_cell_rate(V)``) and then reads a constant (stuck at 1 with
    probability ``stuck_at_one``).  The expected faulty-cell rate equals the column
    rate (``make_fault_model("column", ber=b)`` uses 2b: stuck cells read wrong half
    the time); with ``interleave > 1`` a column holds one bit position of every
    ``interleave``-th word, so SECDED sees at most one error per word."""

    _stuck = True
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


# ---------------------------------------------------------------- the registry the CLIs use

FAULT_MODEL_NAMES = ("transient", "chip", "stuck-at", "asymmetric", "msb", "column")
_OPTIONS = {
    "transient": {"protect_msb"},
    "chip": {"protect_msb", "stuck_at_one", "cache_size"},
    "stuck-at": {"protect_msb", "stuck_at_one"},
    "asymmetric": {"protect_msb", "p01", "p01_share"},
    "msb": {"protect_msb", "sign_ber", "other_rate"},
    "column": {"protect_msb", "stuck_at_one"},
}


def make_fault_model(
    name: str, *, ber: float | None = None, technology: Technology | None = None, **options: Any
) -> FaultModel:
    """A fault model by name, its rate from ``ber`` or from ``technology`` at the call's voltage.

    ``ber`` is, for every model, the probability that a stored bit of random data reads wrong
    (a technology gives it as ``bit_error_rate(V)``; module docstring):

    - ``transient``: every cell flips with probability ber (Transient).
    - ``chip``: a persistent chip fault map; cells faulty with probability 2 ber, stuck at 0/1
      (ChipFaultMap; the seed of ``corrupt`` is the chip); ber <= 0.5.
    - ``stuck-at``: each cell faulty with probability 2 ber, stuck at a random value (StuckAt).
    - ``asymmetric``: a stored 1 reads 0 with p10, a stored 0 reads 1 with p01, their mean
      (p10 + p01) / 2 = ber; split by ``p01_share`` = p01 / p10 (default 0: p10 = 2 ber, only
      1 -> 0 errors) or by a fixed ``p01`` (then p10 = 2 ber - p01).
    - ``msb``: ber on every bit, ``sign_ber`` on the sign bit (default 0: protected).
    - ``column``: whole columns fail with probability 2 ber (ColumnFailures; stuck cells).

    Every model takes ``protect_msb`` (fraction of weights whose sign bit never fails).
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in _OPTIONS:
        raise InputError(f"unknown fault model {name!r}: use one of {', '.join(FAULT_MODEL_NAMES)}")
    unknown = set(options) - _OPTIONS[key]
    if unknown:
        raise InputError(
            f"fault model {key!r} has no option {sorted(unknown)[0]!r} "
            f"(options: {', '.join(sorted(_OPTIONS[key]))})"
        )
    if key == "transient":
        return Transient(ber=ber, technology=technology, **options)
    if key == "chip":
        return ChipFaultMap(technology=technology, ber=ber, **options)
    if key == "stuck-at":
        return StuckAt(ber=ber, technology=technology, **options)
    if key == "asymmetric":
        if technology is None and ber is None:
            raise InputError("AsymmetricTransient needs ber= (the mean bit error probability) or technology=")
        if technology is not None and ber is not None:
            raise InputError("AsymmetricTransient: give ber= or technology=, not both")
        if technology is not None:
            if "p01" in options:
                raise InputError(
                    "asymmetric with a technology: use p01_share (p01 = share x p10), not p01"
                )
            return AsymmetricTransient(technology=technology, **options)
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
        return AsymmetricTransient(p01=p01, p10=p10, **options)
    if key == "msb":
        options.setdefault("sign_ber", 0.0)
        return BitPositionTransient(ber=ber, technology=technology, **options)
    if technology is None:
        if ber is None:
            raise InputError("ColumnFailures needs ber= (a probability) or technology=")
        return ColumnFailures(column_rate=2.0 * _check_stuck_ber(_check_rate(ber, "ber"), "column"),
                              **options)  # fmt: skip
    if ber is not None:
        raise InputError("ColumnFailures: give ber= or technology=, not both")
    return ColumnFailures(technology=technology, **options)
