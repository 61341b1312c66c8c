"""Minerva's bit masking: a flagged bit reads as the sign bit; a flagged sign bit zeroes the weight.

The detector is a model of its own (:class:`Detector`), with what it sees, its coverage and its cost.
Minerva (Reagen et al., ISCA 2016, stage 5) assumes Razor-style double sampling in the sense
amplifiers (Ernst et al., MICRO 2003): a second, later sample of each bit, compared with the first.
That catches a read that resolves *late* (a timing error, which the transient fault model draws);
it cannot see a cell stably stuck at the wrong value, which reads the same wrong value in both
samples.  So under persistent (stuck) faults, ``ChipFaultMap`` and the other stuck models, the
detector flags nothing and bit-mask reads as the unprotected memory: its errors count as
miscorrected, as every error no scheme flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from sram_models.protection.registry import BIT_MASK, PROTECTION_SCHEMES, Scheme


@dataclass(frozen=True)
class Detector:
    """A per-bit read-error detector: what it sees, with what coverage, at what cost."""

    name: str
    sees: str
    """the errors it can see, in words"""
    late_read_coverage: float
    """share of transient (late-read) bit errors it flags"""
    stuck_coverage: float
    """share of stuck cells reading the wrong value that it flags"""
    energy_overhead: float | None
    """extra read energy as a fraction of the array's (None: not modelled, no sourced figure)"""
    source: str

    def coverage(self, stuck: bool) -> float:
        """Share of the bit errors of a fault model it flags (``stuck``: the model's cells are stuck)."""
        return self.stuck_coverage if stuck else self.late_read_coverage


RAZOR = Detector(
    "razor-double-sampling",
    "reads that resolve late (a second, delayed sample disagrees with the first); not a cell stuck at "
    "the wrong value, which both samples read alike",
    # 1.0: an assumption, as Minerva makes it (every transient flip is taken to be a late read the
    # shadow sample catches); 0.0: by construction, both samples of a stuck cell agree.
    late_read_coverage=1.0,
    stuck_coverage=0.0,
    # No sourced energy figure for a double-sampling sense amplifier was found for this model; the
    # cost is stated as not modelled rather than set to an invented number.
    energy_overhead=None,
    source="Razor double sampling: Ernst et al., MICRO 2003; used for SRAM bit masking by Reagen et al., "
    "Minerva, ISCA 2016 (stage 5)",
)


@dataclass(frozen=True)
class BitMaskScheme(Scheme):
    """Bit masking driven by a per-bit :class:`Detector` (Razor-style by default)."""

    detector: Detector = RAZOR

    def detector_coverage(self, stuck: bool) -> float:
        """Share of a fault model's bit errors the detector flags: 1 for late reads, 0 for stuck cells."""
        return self.detector.coverage(stuck)


BIT_MASK_SCHEME = PROTECTION_SCHEMES.register("bit-mask", BitMaskScheme(
    "bit-mask", BIT_MASK,
    "a bit the detector flags reads as the sign bit; a flagged sign bit zeroes the weight. Razor-style "
    "detector: sees late reads (transient faults), not stuck cells (under chip faults it flags nothing)",
    "bit masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation); Razor double "
    "sampling (Ernst et al., MICRO 2003) as the detector, as Minerva assumes", True,
    "none in the array (detection sits in the sense amplifiers; its energy not modelled)",
))  # fmt: skip
