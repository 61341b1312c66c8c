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
    v_min_ratio: float = 0.0
    """this cell's Vmin over the 6T cell's Vmin in the same process: the cell does not fail at or
    above ``v_min_ratio`` x the preset's ``v_min`` (its 6T cells' lowest error-free voltage); 0: fails
    like the preset's cells, no floor of its own"""

    def v_floor(self, v_min_6t: float) -> float:
        """Lowest voltage (the preset's units) this cell covers, given the preset's 6T Vmin."""
        return self.v_min_ratio * float(v_min_6t)


SIX_T = CellKind("6T", 1.0, 1.0, 1.0, "the reference cell: the preset's BER, energy and leakage are its")

# 8T: read-decoupled cell (two extra read-port transistors).
# - v_min_ratio (8T Vmin / 6T Vmin of the same process, applied to the preset's own 6T Vmin ``v_min``):
#   the 8T number is measured: Chang et al., "An 8T-SRAM for variability tolerance and low-voltage
#   operation in high-performance caches", IEEE JSSC 43(4), 2008, ran a 32 kb 8T subarray in 65 nm
#   PD-SOI down to 0.41 V.  The 6T Vmin of that process is an ASSUMPTION (0.7 V; no paired 8T/6T
#   measurement was found for this model): 0.41 / 0.7 = 0.586.  Taking a low 6T Vmin makes the ratio
#   high, i.e. the floor errs towards refusing voltages.  (The earlier definition, 0.41 V over the 8T
#   array's 1.2 V nominal supply, was a ratio to another paper's nominal and is not a Vmin ratio.)
#   Carrying the ratio to another node and preset is an ASSUMPTION too.
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
    source="Vmin ratio to the 6T: Chang et al. JSSC 2008's measured 8T Vmin (0.41 V, 65 nm) over an "
    "assumed 6T Vmin of 0.7 V in that process; area 1.3, energy and leakage 1.0: assumptions",
    v_min_ratio=0.41 / 0.7,
)

CELL_KINDS = {SIX_T.name: SIX_T, EIGHT_T.name: EIGHT_T}

__all__ = ["CELL_KINDS", "EIGHT_T", "SIX_T", "CellKind"]
