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
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sram_models.errors import InputError
from sram_models.layout import MemoryImage
from sram_models.registry import Registry
from sram_models.technology import Technology

_MASK64 = (1 << 64) - 1


def kernel_seed(seed: int, stream: int = 0) -> np.uint64:
    """Return the kernels' 64-bit SplitMix64 starting state from a non-negative seed and a stream number.

    (seed, stream) go through the SplitMix64 finaliser so that nearby seeds start far
    apart and each model family (stream) draws independently of the others; cheap
    (a microsecond), since it runs once per realisation.
    """
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
    image: MemoryImage, words: np.ndarray, sorted_positions: np.ndarray, faulty_cells: int,
    detector_sees: bool = True,
) -> FaultResult:
    """Return the result of reading ``words`` (the cells as they read) through ``image``'s scheme.

    Its counts are against ``image`` (the stored words), over the words touched by ``sorted_positions``.
    ``detector_sees`` False: bit-mask's detector cannot see these errors (stuck cells), so nothing is
    flagged and the words read as unprotected.
    """
    from sram_models import _kernels
    from sram_models.protection.registry import PLAIN

    lay = image.layout
    hpos, phys_of_hpos = image.hamming_tables if lay.ecc == "secded" else (_EMPTY, _EMPTY)
    bit_mask = lay.policy.needs_flags
    flags = np.zeros_like(words) if bit_mask else _NO_FLAGS
    policy = lay.policy.code if (detector_sees or not bit_mask) else PLAIN.code
    cells, changed, corrected, detected, miscorrected = _kernels._read_stats(
        image.words,
        words,
        sorted_positions,
        lay.phys_bits,
        lay.word_bits,
        lay.bits,
        lay.weights_per_word,
        image.n_weights,
        policy,
        hpos,
        phys_of_hpos,
        flags,
    )
    if not lay.scheme.reports:  # no scheme: nothing corrected, flagged or miscorrected
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
    """Return what a read of ``words`` gives through ``image``'s protection scheme, and what it did.

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
    options: ClassVar[frozenset[str]] = frozenset({"protect_msb"})
    """the keyword options ``make_fault_model`` passes on (besides ``ber`` and ``technology``)"""
    nested: ClassVar[bool] = False
    """True: the faulty cells at a lower voltage contain those at any higher voltage (same seed)"""

    @classmethod
    def from_settings(cls, *, ber: float | None = None, technology: Technology | None = None,
                      **options: Any) -> FaultModel:
        """Build the model with its rate from ``ber`` or from ``technology``.

        ``ber`` is the convention's bit error probability; ``options`` are already checked against
        :attr:`options`.
        """
        return cls(ber=ber, technology=technology, **options)  # type: ignore[call-arg]

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

    def weight_bit_error_rates(self, bits: int, voltage: float | None = None) -> np.ndarray:
        """Return the declared probability, per bit position, that a stored bit reads wrong.

        One entry per bit position of a ``bits``-bit weight (LSB first): the probability that a bit of
        random data reads wrong without protection (the conformance tests measure it).
        """
        return np.full(bits, self.bit_error_rate(voltage), np.float64)

    def rate(self, voltage: float | None = None) -> float:
        """Return the per-cell rate this call draws.

        The bit error probability for flip models, the faulty-cell probability (2 x it) for stuck models.
        """
        if not self._stuck:
            return self.bit_error_rate(voltage)
        if self.technology is None:
            return 2.0 * float(self.ber)  # type: ignore[arg-type]
        return float(self.technology.faulty_cell_rate(self._voltage(voltage)))

    def corrupt(self, image: MemoryImage, seed: int, voltage: float | None = None) -> FaultResult:
        """Read ``image`` through this model's faults; ``image`` itself is never modified.

        Parameters
        ----------
        image : MemoryImage
            The packed words as written.
        seed : int
            Non-negative seed of the draw (same seed, same faults).
        voltage : float, optional
            Supply voltage of the read; required when the rate comes from a technology.

        Returns
        -------
        FaultResult
            The words as read, the decoded codes and the fault counts.
        """
        raise NotImplementedError

    # ------------------------------------------------------------ shared steps

    def _check_image(self, image: MemoryImage, voltage: float | None = None) -> None:
        from sram_models.protection import check_voltage

        if not isinstance(image, MemoryImage):
            raise InputError(f"corrupt() needs a MemoryImage (MemoryImage.pack), got {type(image).__name__}")
        check_voltage(image.layout.protect, getattr(self, "technology", None), voltage)

    def _sign_fraction(self, image: MemoryImage) -> float:
        # hardened sign cells (msb-8t's 8T cells) do not fail in the voltage range they cover
        return 1.0 if image.layout.scheme.hardened_signs else float(self.protect_msb)

    @staticmethod
    def _geometry(image: MemoryImage) -> tuple[int, int, int, int, int]:
        lay = image.layout
        return lay.phys_bits, lay.word_bits, lay.bits, lay.weights_per_word, image.n_weights

    def _finish(
        self, image: MemoryImage, words: np.ndarray, sorted_positions: np.ndarray, faulty_cells: int
    ) -> FaultResult:
        # bit-mask's Razor-style detector sees late reads, not stuck cells (sram_models.protection.bit_mask)
        sees = image.layout.scheme.detector_coverage(bool(self._stuck)) > 0
        return _read_result(image, words, sorted_positions, faulty_cells, detector_sees=sees)

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



# ---------------------------------------------------------------- the registry the CLIs use

FAULT_MODELS: Registry[type[FaultModel]] = Registry("fault model", homes=("sram_models.faults",))
"""Fault model classes by the name users give (``make_fault_model``, ``--fault``, config values).

Each model file registers its class where it defines it; importing :mod:`sram_models.faults`
imports every model file of the package, so a new model is one new file."""


def make_fault_model(
    name: str, *, ber: float | None = None, technology: Technology | None = None, **options: Any
) -> FaultModel:
    """Return a fault model by name, its rate from ``ber`` or from ``technology`` at the call's voltage.

    ``ber`` is, for every model, the probability that a stored bit of random data reads wrong
    (a technology gives it as ``bit_error_rate(V)``; module docstring).  The names are those of
    :data:`FAULT_MODELS`; each model's class says how it is built from ``ber``/``technology``
    (``FaultModel.from_settings``) and which ``options`` it takes.  Every model takes
    ``protect_msb`` (fraction of weights whose sign bit never fails).

    Parameters
    ----------
    name : str
        A registered name (``_`` and ``-`` are the same; case does not matter).
    ber : float, optional
        The bit error probability of random data.
    technology : Technology, optional
        Take the rate from the technology at the voltage of each ``corrupt`` call.
    **options
        The model's options (``FaultModel.options``).

    Returns
    -------
    FaultModel
        The configured model.
    """
    key = str(name).strip().lower().replace("_", "-")
    cls = FAULT_MODELS.get(key)
    unknown = set(options) - set(cls.options)
    if unknown:
        raise InputError(
            f"fault model {key!r} has no option {sorted(unknown)[0]!r} "
            f"(options: {', '.join(sorted(cls.options))})"
        )
    return cls.from_settings(ber=ber, technology=technology, **options)


FAULT_MODEL_NAMES = FAULT_MODELS
"""The registered names (the registry itself: supports ``in``, iteration and ``len``)."""
