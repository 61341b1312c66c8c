"""Protection schemes for the weight memory: what each stores, what a read returns, what it costs.

A scheme is chosen per memory (``WordLayout(protect=NAME)``); ``WordLayout(ecc="secded")``
is the same as ``protect="secded"``.  Every scheme is defined by what a read of a
word returns, given the word's cells as they read (faults included):

``none``
    the data bits as read.
``secded``
    an extended Hamming code per word (Hamming 1950; the (72, 64) SEC-DED code of
    Hsiao 1970 for 64-bit words): one error is corrected, two are detected and the
    word is returned as read.  Three or more errors may be "corrected" into a wrong
    word or pass as clean: the simulator, which knows the stored word, counts those
    as *miscorrected*.
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
    Minerva's bit masking: a faulty bit reads as the weight's sign bit (pulling a
    damaged weight toward 0 or -1), and a weight whose sign bit is faulty reads as 0.
    It assumes per-bit fault detection, e.g. Razor double-sampling on the bitlines, as
    Minerva does; "faulty" here means *read wrong*: a stuck cell that holds its stuck
    value reads right and is not flagged (the detector sees a read that resolves late,
    i.e. an error), so masking never changes a correct bit.
``msb-8t``
    the sign bit of every weight in an 8T cell (the hybrid 8T-6T array of Srinivasan
    et al., DATE 2016; 8T cell of Chang et al., JSSC 2008): sign bits do not fail at
    any voltage the 8T cells cover (at or above ``EIGHT_T.v_min_fraction`` x the
    preset's nominal voltage), and lower voltages are refused.  The other bits fail as
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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sram_models.errors import InputError

if TYPE_CHECKING:
    from sram_models.layout import WordLayout
    from sram_models.technology import Technology

SCHEME_NAMES = ("none", "secded", "secded-zero", "parity-zero", "bit-mask", "msb-8t")

# Read policies of the kernels (sram_models._kernels._read_word).
POLICY_PLAIN = 0  # none, msb-8t: the data bits as read
POLICY_SECDED = 1  # correct one, detect two, detected words as read
POLICY_SECDED_ZERO = 2  # correct one, detect two, detected words read as zero
POLICY_PARITY_ZERO = 3  # odd parity: the word reads as zero
POLICY_BIT_MASK = 4  # flagged bits read as the sign bit; a flagged sign bit zeroes the weight


@dataclass(frozen=True)
class CellKind:
    """A kind of bit cell and its cost relative to the 6T cell every preset describes."""

    name: str
    area: float
    """cell area / 6T cell area"""
    read_energy: float
    """dynamic energy of reading one cell / that of a 6T cell at the same voltage"""
    leakage: float
    """leakage power of one cell / that of a 6T cell at the same voltage"""
    source: str
    """where the factors come from (and which of them are assumptions)"""
    v_min_fraction: float = 0.0
    """lowest voltage at which the cell does not fail, as a fraction of the preset's nominal
    voltage (0: fails like the preset's cells, no floor of its own)"""


SIX_T = CellKind("6T", 1.0, 1.0, 1.0, "the reference cell: the preset's BER, energy and leakage are its")

# 8T: read-decoupled cell (two extra read-port transistors).
# - v_min_fraction: Chang et al., "An 8T-SRAM for variability tolerance and low-voltage operation in
#   high-performance caches", IEEE JSSC 43(4), 2008: a 32 kb 8T subarray in 65 nm PD-SOI measured
#   working from 1.2 V (nominal, 5.3 GHz) down to 0.41 V (295 MHz): 0.41 / 1.2 = 0.342.  Carrying the
#   ratio to another node and preset is an ASSUMPTION; for presets in units of Vmin the nominal is
#   the 6T Vmin (chandramoorthy14), which makes the floor 0.342 there, far below every shipped range.
# - area 1.3: ASSUMPTION (the ~30% larger cell usually quoted for the read-decoupled 8T cell; the
#   factor is node dependent: Morita et al., IEICE Trans. Electron. E90-C(10), 2007, find a
#   variation-aware 8T cell 14.6% SMALLER than the 6T cell at 32 nm and 0.8 V).  Srinivasan et al.
#   (DATE 2016, abstract) report 10.41% area overhead for their hybrid array, whose 8T share is
#   not reproduced here.
# - read_energy 1.0, leakage 1.0: ASSUMPTIONS (no per-cell figure found in a source we could check;
#   the 8T read stack adds a leakage path, the single-ended read bitline a full swing).
EIGHT_T = CellKind(
    "8T",
    area=1.3,
    read_energy=1.0,
    leakage=1.0,
    source="Vmin: Chang et al. JSSC 2008 (8T 32 kb, 65 nm, 1.2 V down to 0.41 V); area 1.3, energy and "
    "leakage 1.0: assumptions",
    v_min_fraction=0.41 / 1.2,
)

CELL_KINDS = {SIX_T.name: SIX_T, EIGHT_T.name: EIGHT_T}


@dataclass(frozen=True)
class SchemeInfo:
    """What a scheme is and where it comes from (for tables and the README)."""

    name: str
    policy: int
    summary: str
    source: str
    detects: bool
    """the scheme flags (some) words it cannot correct"""
    check_bits_source: str


SCHEMES: dict[str, SchemeInfo] = {
    "none": SchemeInfo("none", POLICY_PLAIN, "no protection", "-", False, "no check bits"),
    "secded": SchemeInfo(
        "secded", POLICY_SECDED,
        "extended Hamming per word: corrects 1 error, detects 2; a detected word is returned as read",
        "Hamming 1950; Hsiao 1970 (the (72, 64) SEC-DED code)", True,
        "r + 1 with 2^r >= k + r + 1 (8 for 64 data bits, 6 for 16)",
    ),
    "secded-zero": SchemeInfo(
        "secded-zero", POLICY_SECDED_ZERO,
        "SECDED; a detected-uncorrectable word reads as zero",
        "word masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation), with SECDED "
        "as the detector (as in Soroush et al., arXiv:2508.12347)", True,
        "as secded",
    ),
    "parity-zero": SchemeInfo(
        "parity-zero", POLICY_PARITY_ZERO,
        "one parity bit per word; a word with odd errors reads as zero",
        "word masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation), with a "
        "parity detector", True,
        "1 per word",
    ),
    "bit-mask": SchemeInfo(
        "bit-mask", POLICY_BIT_MASK,
        "a faulty bit reads as the sign bit; a faulty sign bit zeroes the weight (per-bit detection)",
        "bit masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation); Razor-style "
        "per-bit detection assumed, as Minerva does", True,
        "none in the array (detection sits in the sense amplifiers)",
    ),
    "msb-8t": SchemeInfo(
        "msb-8t", POLICY_PLAIN,
        "every weight's sign bit in an 8T cell that does not fail above its own Vmin",
        "hybrid 8T-6T array of Srinivasan et al., DATE 2016 (arXiv:1602.08556); 8T Vmin from Chang "
        "et al., JSSC 2008", False,
        "none (the sign bits change cell kind)",
    ),
}  # fmt: skip


def check_scheme(name: Any) -> str:
    """The canonical scheme name; InputError naming the choices otherwise."""
    key = "none" if name in (None, "") else str(name).strip().lower().replace("_", "-")
    if key not in SCHEMES:
        raise InputError(f"unknown protection scheme {name!r}: use one of {', '.join(SCHEME_NAMES)}")
    return key


def resolve_scheme(ecc: str | None = None, protect: str | None = None, protect_msb: float = 0.0) -> str:
    """One scheme from the ``--ecc`` alias, ``--protect`` and ``--protect-msb``; contradictions are errors.

    ``ecc`` (None = not given): ``none`` or ``secded`` (an alias of ``protect``).  ``protect_msb``
    (the fraction of weights whose sign bit is hardened, without a cost model) cannot be combined
    with ``msb-8t`` except as 1 (the same thing).
    """
    named = None if protect in (None, "") else check_scheme(protect)
    alias = None
    if ecc not in (None, ""):
        alias = str(ecc).strip().lower()
        if alias not in ("none", "secded"):
            raise InputError(f"--ecc {ecc!r}: use none or secded (or --protect NAME)")
    if named is not None and alias is not None and named != alias:
        raise InputError(
            f"--ecc {alias} contradicts --protect {named}: --ecc is an alias of --protect; give one of them"
        )
    scheme = named or alias or "none"
    fraction = float(protect_msb or 0.0)
    if scheme == "msb-8t" and fraction not in (0.0, 1.0):
        raise InputError(
            f"--protect msb-8t holds every sign bit in 8T cells; --protect-msb {fraction:g} contradicts it: "
            "drop --protect-msb"
        )
    return scheme


def secded_check_bits(data_bits: int) -> int:
    """Check bits of an extended Hamming code for ``data_bits``: r with 2^r >= k + r + 1, plus parity."""
    r = 1
    while (1 << r) < data_bits + r + 1:
        r += 1
    return r + 1


def check_bits(scheme: str, word_bits: int) -> int:
    """Check cells stored per word beside the data bits."""
    scheme = check_scheme(scheme)
    if scheme in ("secded", "secded-zero"):
        return secded_check_bits(word_bits)
    return 1 if scheme == "parity-zero" else 0


def cells_per_word(layout: WordLayout) -> dict[str, int]:
    """Cells of one physical word by kind (``{"6T": n, "8T": m}``; kinds with 0 cells omitted)."""
    if layout.protect == "msb-8t":
        signs = layout.weights_per_word  # one sign bit per weight slot
        return {"6T": layout.phys_bits - signs, "8T": signs}
    return {"6T": layout.phys_bits}


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
    if check_scheme(scheme) != "msb-8t":
        return None
    return EIGHT_T.v_min_fraction * float(technology.v_nominal)


def check_voltage(scheme: str, technology: Technology | None, voltage: float | None) -> None:
    """InputError when ``voltage`` lies below what the scheme's cells cover (msb-8t's 8T Vmin)."""
    if technology is None or voltage is None:
        return
    floor = voltage_floor(scheme, technology)
    if floor is not None and float(voltage) < floor - 1e-12:
        raise InputError(
            f"voltage {float(voltage):g} {technology.voltage_unit} is below the 8T cells' Vmin "
            f"({floor:.3g} {technology.voltage_unit} = {EIGHT_T.v_min_fraction:.3f} x nominal, Chang et al. "
            "JSSC 2008): msb-8t has no failure model there; choose voltages at or above it"
        )


def weights_zeroed_per_detection(layout: WordLayout) -> int:
    """Weights one detection zeroes under a word-zeroing scheme (all the weights of a word)."""
    return layout.weights_per_word


__all__ = [
    "CELL_KINDS",
    "CellKind",
    "EIGHT_T",
    "ProtectionCost",
    "SCHEMES",
    "SCHEME_NAMES",
    "SIX_T",
    "SchemeInfo",
    "cells_per_word",
    "check_bits",
    "check_scheme",
    "check_voltage",
    "energy_weights",
    "protection_cost",
    "resolve_scheme",
    "voltage_floor",
    "weights_zeroed_per_detection",
]
