"""Kinds of bit cell and their costs relative to the 6T cell every preset describes."""

from __future__ import annotations

from dataclasses import dataclass


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

__all__ = ["CELL_KINDS", "EIGHT_T", "SIX_T", "CellKind"]
