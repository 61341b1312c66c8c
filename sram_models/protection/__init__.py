"""Protection schemes for the weight memory: what each stores, what a read returns, what it costs.

A scheme is chosen per memory (``WordLayout(protect=NAME)``); ``WordLayout(ecc="secded")``
is the same as ``protect="secded"``.  Every scheme is defined by what a read of a
word returns, given the word's cells as they read (faults included):

``none``
    the data bits as read.
``secded``
    an extended Hamming code per word (Hamming 1950 plus an overall parity bit; (72, 64)
    for 64-bit words; not Hsiao's code): one error is corrected, two are detected and
    the word is returned as read.  Three or more errors may be "corrected" into a wrong
    word or pass as clean (three: 75.96% miscorrected, 24.04% detected, enumerated):
    the simulator, which knows the stored word, counts those as *miscorrected*.
``secded-zero``
    SECDED, and a detected-uncorrectable word reads as zero (every weight in it 0):
    Minerva's word masking (Reagen et al., ISCA 2016, stage 5: SRAM fault mitigation) with SECDED as the
    detector, as in the ECC-plus-masking scheme of Soroush et al. (arXiv:2508.12347).
``parity-zero``
    one even-parity bit per word; a word with an odd number of errors reads as zero
    (Minerva's word masking with a one-bit detector); an even number (2, 4, ...) of
    errors goes unnoticed (counted as miscorrected).  One detection zeroes
    ``word_bits // bits`` weights (16 at the default 4-bit weights in 64-bit words).
``bit-mask``
    Minerva's bit masking: a bit its detector flags reads as the weight's sign bit (pulling a
    damaged weight toward 0 or -1), and a weight whose flagged bit is the sign reads as 0.
    The detector (:mod:`sram_models.protection.bit_mask`) is Razor-style: it sees late
    reads (transient faults), not stuck cells, so under stuck faults it flags nothing.
    A read that is right is never flagged, so masking never changes a correct bit.
``msb-8t``
    the sign bit of every weight in an 8T cell (the hybrid 8T-6T array of Srinivasan
    et al., DATE 2016; 8T cell of Chang et al., JSSC 2008): sign bits do not fail at
    any voltage the 8T cells cover (at or above ``EIGHT_T.v_min_ratio``, the 8T/6T Vmin
    ratio, x the preset's 6T Vmin ``v_min``), and lower voltages are refused.  The other bits fail as
    6T cells.  No detection, no correction.

Counts every read can report (``FaultResult``), words, disjoint:
``ecc_corrected`` (the scheme corrected the word and its weights read right),
``ecc_detected`` (the scheme flagged the word: SECDED returns it as read, the
``-zero`` schemes zero it, ``bit-mask`` masks its faulty bits), and
``ecc_miscorrected`` (the word's weights read wrong and the scheme did not flag
it: a wrong correction, or an undetected error).  All three are 0 for ``none``.

Costs (:func:`protection_cost`) are data: cells per word by kind (6T, 8T), and per
kind an area, read-energy and leakage factor relative to a 6T cell.  The energy
model consumes them (:func:`energy_weights` is the adapter into
``sram_models.energy``); decoder, parity-tree and detector logic are not modelled
(their energy and area are stated as 0, an assumption).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sram_models.errors import InputError
from sram_models.protection.cells import CELL_KINDS, EIGHT_T, SIX_T, CellKind
from sram_models.protection.registry import (
    PROTECTION_SCHEMES,
    ReadPolicy,
    Scheme,
    check_scheme,
    secded_check_bits,
)
from sram_models.protection.registry import scheme as _scheme

if TYPE_CHECKING:
    from sram_models.layout import WordLayout
    from sram_models.technology import Technology

# Every scheme file registers itself; this order is the order users see (tables, choices).
for _module in ("none", "secded", "secded_zero", "parity_zero", "bit_mask", "msb_8t"):
    importlib.import_module(f"{__name__}.{_module}")

SCHEME_NAMES = PROTECTION_SCHEMES
"""The registered names (the registry itself: supports ``in``, iteration and ``len``)."""
SCHEMES = PROTECTION_SCHEMES
"""Kept name: ``SCHEMES.get(name)`` is the :class:`Scheme` object."""
SchemeInfo = Scheme


def resolve_scheme(ecc: str | None = None, protect: str | None = None, protect_msb: float = 0.0) -> str:
    """One scheme from ``memory.ecc`` (an alias), ``memory.protect`` and ``protect_msb``; contradictions are
    errors, which name those keys (the CLI prints its flags).

    ``ecc`` (None = not given): ``none`` or ``secded`` (an alias of ``protect``).  ``protect_msb``
    (the fraction of weights whose sign bit is hardened, without a cost model) cannot be combined
    with ``msb-8t`` except as 1 (the same thing).
    """
    named = None if protect in (None, "") else check_scheme(protect)
    alias = None
    if ecc not in (None, ""):
        alias = str(ecc).strip().lower()
        if alias not in ("none", "secded"):
            raise InputError(f"`memory.ecc` {ecc!r}: use none or secded (or `memory.protect` NAME)")
    if named is not None and alias is not None and named != alias:
        raise InputError(
            f"`memory.ecc` {alias} contradicts `memory.protect` {named}: `memory.ecc` is an alias of "
            "`memory.protect`; give one of them"
        )
    chosen = named or alias or "none"
    fraction = float(protect_msb or 0.0)
    if _scheme(chosen).hardened_signs and fraction not in (0.0, 1.0):
        raise InputError(
            f"`memory.protect` {chosen} holds every sign bit in 8T cells; `attack.random_flip.protect_msb` "
            f"{fraction:g} contradicts it: drop `attack.random_flip.protect_msb`"
        )
    return chosen




def check_bits(scheme: str, word_bits: int) -> int:
    """Check cells stored per word beside the data bits."""
    return _scheme(scheme).check_bits(word_bits)


@dataclass(frozen=True)
class ProtectionCost:
    """What a scheme adds to an unprotected word of ``word_bits`` 6T cells (array cells only)."""

    scheme: str
    word_bits: int
    check_bits: int
    cells: dict[str, int]
    """cells per word by kind"""
    area_overhead: float
    """sum(cells x area factor) / word_bits - 1"""
    read_energy_overhead: float
    """sum(cells x read-energy factor) / word_bits - 1 (at any voltage: the factors are constant)"""
    leakage_overhead: float
    """sum(cells x leakage factor) / word_bits - 1"""
    logic: str = "decoder / parity / detector logic not modelled (energy and area 0: an assumption)"


def cells_per_word(layout: WordLayout) -> dict[str, int]:
    """Cells of one physical word by kind (``{"6T": n, "8T": m}``; kinds with 0 cells omitted)."""
    return layout.scheme.cells_per_word(layout)


def protection_cost(layout: WordLayout) -> ProtectionCost:
    """Check bits, cells by kind and area / energy / leakage overheads of ``layout``'s scheme."""
    cells = cells_per_word(layout)
    w = layout.word_bits

    def overhead(attr: str) -> float:
        return sum(n * getattr(CELL_KINDS[k], attr) for k, n in cells.items()) / w - 1.0

    return ProtectionCost(
        layout.protect, w, layout.check_bits, cells,
        overhead("area"), overhead("read_energy"), overhead("leakage"),
    )  # fmt: skip


def energy_weights(layout: WordLayout) -> tuple[float, float]:
    """Adapter into ``sram_models.energy``: 6T-equivalent cells (read, leaking) per physical word.

    ``sum(cells of kind k x read_energy factor of k)`` and the same with leakage factors.  The
    energy model reads that many 6T cells per word access and leaks that many per stored word;
    for schemes made only of 6T cells both equal ``layout.phys_bits``.
    """
    cells = cells_per_word(layout)
    read = sum(n * CELL_KINDS[k].read_energy for k, n in cells.items())
    leak = sum(n * CELL_KINDS[k].leakage for k, n in cells.items())
    return float(read), float(leak)


def voltage_floor(scheme: str, technology: Technology) -> float | None:
    """Lowest voltage (preset units) the scheme's own cells cover, or None when it has no floor."""
    return _scheme(scheme).voltage_floor(technology)


def check_voltage(scheme: str, technology: Technology | None, voltage: float | None) -> None:
    """InputError when ``voltage`` lies below what the scheme's cells cover (msb-8t's 8T Vmin)."""
    if technology is None or voltage is None:
        return
    floor = voltage_floor(scheme, technology)
    if floor is not None and float(voltage) < floor - 1e-12:
        raise InputError(
            f"voltage {float(voltage):g} {technology.voltage_unit} is below the 8T cells' Vmin "
            f"({floor:.3g} {technology.voltage_unit} = 8T/6T Vmin ratio {EIGHT_T.v_min_ratio:.3f} x the "
            "preset's 6T Vmin; sram_models.protection.cells): msb-8t has no failure model there; choose "
            "voltages at or above it"
        )


def weights_zeroed_per_detection(layout: WordLayout) -> int:
    """Weights one detection zeroes under a word-zeroing scheme (all the weights of a word)."""
    return layout.weights_per_word


__all__ = [
    "CELL_KINDS",
    "CellKind",
    "EIGHT_T",
    "PROTECTION_SCHEMES",
    "ProtectionCost",
    "ReadPolicy",
    "SCHEMES",
    "SCHEME_NAMES",
    "SIX_T",
    "Scheme",
    "SchemeInfo",
    "cells_per_word",
    "check_bits",
    "check_scheme",
    "check_voltage",
    "energy_weights",
    "protection_cost",
    "resolve_scheme",
    "secded_check_bits",
    "voltage_floor",
    "weights_zeroed_per_detection",
]
