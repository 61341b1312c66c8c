"""Energy of one inference's weight reads from a memory image (issue 2, section 4).

Weight-stationary dataflow: every stored word is read ``reads_per_weight`` times
per inference (1 by default).

- dynamic = words read x read_energy(V) x bits per word / access_bits
  (bits per word = data + check bits: ECC reads its check bits too);
- leakage = leakage_power(V) x cells / leakage_bits x inference time, where the
  array is sized to the image (its cells, check bits included) and
  inference time = words read / banks x cycle_time_ns (one word per bank per
  cycle; the cycle time is the preset's and constant over V);
- normalised figures are relative to the same weights stored WITHOUT ECC at
  v_nominal, so the ECC overhead (check bits read and leaking) shows in them:
  a SECDED image at v_nominal has total_norm = phys_bits / word_bits (1.125 for
  64-bit words).  Without absolute figures in the preset, the normalised total
  weights dynamic and leakage by the preset's ``leakage_share_nominal``.
The ECC decoder's own energy is not modelled.

Protection schemes (sram_models.protection) enter through one adapter,
``protection.energy_weights(layout)``: the 6T-equivalent cells read and leaking per
word (check cells at 1 each, an 8T cell at its read-energy / leakage factor).
"""

from __future__ import annotations

from dataclasses import dataclass

from sram_models.errors import InputError
from sram_models.layout import MemoryImage
from sram_models.technology import Technology


@dataclass(frozen=True)
class EnergyReport:
    """Energy per inference at one voltage; absolute fields None without absolute figures."""

    voltage: float
    words_read: float
    """physical words read per inference"""
    bits_per_word: int
    """cells read per word (data + check bits)"""
    ecc_overhead: float
    """bits_per_word / data bits per word (1.0 without ECC)"""
    inference_time_ns: float | None
    """words_read / banks x cycle time; None when the preset has no cycle time"""
    dynamic_pj: float | None
    leakage_pj: float | None
    total_pj: float | None
    dynamic_norm: float
    """dynamic energy over that of the same weights without ECC at v_nominal"""
    leakage_norm: float
    total_norm: float


def inference_energy(
    image: MemoryImage, tech: Technology, voltage: float, reads_per_weight: float = 1.0
) -> EnergyReport:
    """Energy of reading ``image`` once per inference (times ``reads_per_weight``) at ``voltage``."""
    if not isinstance(image, MemoryImage):
        raise InputError(f"inference_energy needs a MemoryImage, got {type(image).__name__}")
    if not isinstance(tech, Technology):
        raise InputError(f"inference_energy needs a Technology (load_technology), got {type(tech).__name__}")
    try:
        reads = float(reads_per_weight)
    except (TypeError, ValueError):
        raise InputError(f"reads_per_weight must be a positive number, got {reads_per_weight!r}") from None
    if not reads > 0:
        raise InputError(f"reads_per_weight must be positive, got {reads_per_weight!r}")
    from sram_models.protection import energy_weights

    v = float(tech.check_voltage(voltage))
    lay = image.layout
    words_read = image.n_words * reads
    overhead = lay.phys_bits / lay.word_bits
    # h7 adapter: 6T-equivalent cells read / leaking per word (== phys_bits for all-6T schemes)
    read_cells, leak_cells = energy_weights(lay)
    dyn_norm = float(tech.read_energy_norm(v)) * read_cells / lay.word_bits
    leak_norm = float(tech.leakage_norm(v)) * leak_cells / lay.word_bits  # same time; more cells leak
    time_ns = None if tech.cycle_time_ns is None else words_read / lay.banks * tech.cycle_time_ns

    if not tech.has_absolute_energy:
        share = tech.leakage_share_nominal
        total_norm = (1.0 - share) * dyn_norm + share * leak_norm
        return EnergyReport(
            v, words_read, lay.phys_bits, overhead, time_ns, None, None, None, dyn_norm, leak_norm, total_norm
        )

    assert time_ns is not None  # presets with absolute figures always carry a cycle time

    def dynamic(volt: float, bits_per_word: float) -> float:
        return words_read * float(tech.read_energy(volt)) * bits_per_word / tech.access_bits

    def leakage(volt: float, cells: float) -> float:
        # mW x ns = pJ
        return float(tech.leakage_power(volt)) * cells / tech.leakage_bits * time_ns

    dyn = dynamic(v, read_cells)
    leak = leakage(v, image.n_words * leak_cells)
    ref_cells = image.n_words * lay.word_bits
    ref_total = dynamic(tech.v_nominal, lay.word_bits) + leakage(tech.v_nominal, ref_cells)
    return EnergyReport(
        v,
        words_read,
        lay.phys_bits,
        overhead,
        time_ns,
        dyn,
        leak,
        dyn + leak,
        dyn_norm,
        leak_norm,
        (dyn + leak) / ref_total,
    )
