"""Energy of one inference's weight reads: dynamic reads plus leakage over the inference time.

**The memory organisation** (:class:`MemoryOrganisation`).  Each voltage domain's
words fill arrays of ``layout.rows`` rows of ``layout.interleave`` words (one
row = ``interleave x phys_bits`` cells, check bits included); a domain occupies
whole arrays of its own, so the padding cells of its last array leak and count.
The arrays are spread round-robin over ``banks`` banks that are read in
parallel, each bank reading one row per cycle (so a bank reads
``interleave x phys_bits`` bits per cycle: 64 with the default 64-bit words).
Reading a domain takes as many cycles as its busiest bank has rows (times
``reads_per_weight``); domains are read one after the other.  The default is
the convolution buffer of NVDLA's small configuration (nv_small: 32 banks, each
8 bytes wide and 512 entries deep, 128 KB; NVDLA hardware documentation,
scalability parameters NVDLA_CBUF_BANK_NUMBER / _WIDTH / _DEPTH), every bank read
every cycle: the fastest that buffer delivers its weights.  An image larger than
128 KB is modelled as more arrays behind the same 32 banks.

**The clock** follows the access time: a cycle at supply V lasts
``tech.access_time(V)`` (ns; :mod:`sram_models.technology` gives the delay model),
so the reads take ``read_time = sum over domains of cycles x access_time(V_d)``.
The inference lasts ``max(inference_time_ns, read_time)`` when the user gives the
accelerator's (compute-bound) time, else ``read_time``; every domain's arrays
leak for the whole inference.

**Energy.**  dynamic = bits read x read_energy(V) / access_bits (check bits are
read too); leakage = leakage_power(V) / leakage_bits x leaking cells x inference
time (mW x ns = pJ).  Presets without absolute figures use additive relative
units: 1 = the read energy of one bit at nominal, time in nominal access times,
leakage per cell and nominal access time = ``leakage_share_nominal / ((1 - share)
x 512)`` (the share it has in one full 512-row array read once, row by row,
through one bank), scaled by ``leakage_norm(V)``.  So energies of several domains
always add, in pJ or in those units.

**Normalised** figures are relative to the reference: the same weights stored
WITHOUT ECC, as one domain, at v_nominal, with the same organisation (a SECDED
image at v_nominal has total_norm = phys_bits / word_bits, 1.125 for 64-bit
words).  ``dynamic_norm + leakage_norm = total_norm``.  Not modelled: the ECC
decoder's own energy, level shifters (the voltage planner adds them:
``wcatsim.experiments.plan.energy``) or regulators between voltage domains,
and anything outside the weight memory.

For a planner: :func:`memory_energy` takes several ``(MemoryImage, voltage)``
domains and returns their summed energy under one model;
:func:`inference_energy` is its one-domain case, which the sweeps use.

**Protection schemes** (:mod:`sram_models.protection`) enter through one adapter,
``protection.energy_weights(layout)``: the 6T-equivalent cells read and leaking per
word (check cells at 1 each, an 8T cell at its read-energy / leakage factor); the
reference is always the unprotected 6T image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sram_models.errors import InputError
from sram_models.layout import MemoryImage, WordLayout
from sram_models.protection import PROTECTION_SCHEMES, protection_cost, weights_zeroed_per_detection
from sram_models.technology import Technology

# The reference array of leakage_share_nominal (presets without absolute figures): 512 rows,
# the 512x64 arrays of the chandramoorthy14 measurements and of NVDLA's CBUF banks.
_SHARE_REFERENCE_ROWS = 512


@dataclass(frozen=True)
class MemoryOrganisation:
    """How the weights are read: banks in parallel, and the inference time."""

    banks: int = 32
    """banks read in parallel, one row each per cycle; 32 = NVDLA nv_small's convolution buffer"""
    inference_time_ns: float | None = None
    """the accelerator's inference time (ns), e.g. its compute-bound time; None: the time the reads
    take.  The inference never lasts less than its reads"""
    reads_per_weight: float = 1.0
    """reads of every stored word per inference (1: weight-stationary)"""

    def __post_init__(self) -> None:
        if isinstance(self.banks, bool) or not isinstance(self.banks, (int, np.integer)) or self.banks < 1:
            raise InputError(f"banks={self.banks!r}: give a positive number of banks read in parallel")
        if self.inference_time_ns is not None:
            t = _positive(self.inference_time_ns, "`memory.inference_time_ns`")
            object.__setattr__(self, "inference_time_ns", t)
        object.__setattr__(self, "reads_per_weight", _positive(self.reads_per_weight, "reads_per_weight"))

    @classmethod
    def from_options(
        cls, banks: int | None = None, inference_time_ns: float | None = None
    ) -> MemoryOrganisation:
        """Return the organisation a command's ``--banks`` / ``--inference-time-ns`` name (None: default)."""
        return cls(**({} if banks is None else {"banks": banks}), inference_time_ns=inference_time_ns)

    def describe(self) -> dict[str, float | int | None]:
        """Return the organisation as results record it: banks, inference time (ns), reads per weight."""
        return {
            "banks": int(self.banks),
            "inference_time_ns": self.inference_time_ns,
            "reads_per_weight": self.reads_per_weight,
        }


def _positive(value: object, name: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if not (out > 0 and math.isfinite(out)):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return out


@dataclass(frozen=True)
class Footprint:
    """Where one domain's words sit: enough to cost it (no cell values)."""

    n_words: int
    phys_bits: int
    """cells per word, check bits included"""
    rows: int
    interleave: int
    read_cells: float | None = None
    """6T-equivalent cells read per word access (None: ``phys_bits``, every cell a 6T cell)"""
    leak_cells: float | None = None
    """6T-equivalent cells leaking per stored word slot (None: ``phys_bits``)"""

    @classmethod
    def of(cls, image: MemoryImage) -> Footprint:
        """Return the footprint of ``image``: its words, physical bits, array shape and cells by kind."""
        from sram_models.protection import energy_weights

        lay = image.layout
        # A protection scheme's cells by kind (msb-8t's 8T sign cells) weighted by their energy factors.
        read_cells, leak_cells = energy_weights(lay)
        return cls(image.n_words, lay.phys_bits, lay.rows, lay.interleave, read_cells, leak_cells)

    @property
    def read_weight(self) -> float:
        """6T-equivalent cells one word read drives (a scheme's 8T cells weighted by their energy)."""
        return float(self.phys_bits if self.read_cells is None else self.read_cells)

    @property
    def leak_weight(self) -> float:
        """6T-equivalent leaking cells of the whole arrays (padding included)."""
        per_word = self.phys_bits if self.leak_cells is None else self.leak_cells
        return self.arrays * self.rows * self.interleave * float(per_word)

    @property
    def row_count(self) -> int:
        """Physical rows the words fill (interleave words per row)."""
        return -(-self.n_words // self.interleave)

    @property
    def arrays(self) -> int:
        """Arrays of ``rows`` rows the domain's words occupy (at least one)."""
        return max(1, -(-self.row_count // self.rows))

    @property
    def cells(self) -> int:
        """Cells of the whole arrays the domain occupies (padding of the last array included)."""
        return self.arrays * self.rows * self.interleave * self.phys_bits

    def read_cycles(self, banks: int) -> int:
        """Cycles to read every row once: the rows of the busiest bank (arrays round-robin)."""
        full, last = divmod(self.row_count, self.rows)
        arrays = full + (1 if last else 0)
        per_bank = [0] * min(banks, arrays)
        for a in range(arrays):
            per_bank[a % banks] += self.rows if a < full else last
        return max(per_bank) if per_bank else 0


@dataclass(frozen=True)
class DomainEnergy:
    """One voltage domain's part of an inference (energies in the report's unit)."""

    voltage: float
    words: int
    cells: int
    """leaking cells (whole arrays)"""
    cycles: float
    """read cycles (x reads_per_weight)"""
    access_time: float
    """cycle length at this voltage: ns, or nominal access times for relative presets"""
    dynamic: float
    leakage: float
    dynamic_norm: float
    leakage_norm: float


@dataclass(frozen=True)
class EnergyReport:
    """Energy per inference; absolute (``*_pj``, ``*_ns``) fields None without absolute figures."""

    voltage: float | None
    """the supply (None when the domains run at different voltages)"""
    words_read: float
    """physical words read per inference"""
    bits_per_word: int
    """cells read per word (data + check bits), of the first domain"""
    ecc_overhead: float
    """bits_per_word / data bits per word (1.0 without ECC), of the first domain"""
    inference_time_ns: float | None
    """how long the arrays leak: max(given inference time, read time)"""
    dynamic_pj: float | None
    leakage_pj: float | None
    total_pj: float | None
    dynamic_norm: float
    """dynamic energy over the reference's total (same weights, no ECC, one domain, v_nominal)"""
    leakage_norm: float
    total_norm: float
    leakage_share: float
    """leakage / total (in relative units for presets without absolute figures)"""
    read_time_ns: float | None
    """time the reads take at these voltages"""
    access_time_ns: float | None
    """cycle length (access time) at the voltage; None for mixed voltages or without absolute timing"""
    cells: int
    """leaking cells, whole arrays of every domain"""
    unit: str
    """unit of ``dynamic``, ``leakage``, ``total``: "pJ" or "relative" (read energy of one bit at nominal)"""
    dynamic: float
    leakage: float
    total: float
    domains: tuple[DomainEnergy, ...]


def _check_tech(tech: object) -> Technology:
    if not isinstance(tech, Technology):
        raise InputError(f"the energy model needs a Technology (load_technology), got {type(tech).__name__}")
    return tech


def _per_bit_read(tech: Technology, v: float) -> float:
    if tech.has_absolute_energy:
        return float(tech.read_energy(v)) / tech.access_bits  # type: ignore[arg-type]
    return float(tech.read_energy_norm(v))


def _per_cell_time(tech: Technology, v: float) -> float:
    """Leakage of one cell for one unit of time (pJ per ns, or relative units per nominal access)."""
    if tech.has_absolute_energy:
        return float(tech.leakage_power(v)) / tech.leakage_bits  # type: ignore[arg-type]
    share = tech.leakage_share_nominal
    if share == 0.0:
        return 0.0
    return share / ((1.0 - share) * _SHARE_REFERENCE_ROWS) * float(tech.leakage_norm(v))


def _cycle(tech: Technology, v: float, needed: bool) -> float:
    """Return the length of one read cycle at ``v``.

    In ns with absolute energies and timing, else in nominal access times (the unit a relative
    preset's leakage is per: a relative preset's cycle_time_ns only labels times).
    """
    if not tech.has_delay_model:
        if needed:
            tech.access_time_norm(v)  # raises the message that names the fix
        return math.nan
    norm = float(tech.access_time_norm(v))
    absolute = tech.has_absolute_energy and tech.cycle_time_ns is not None
    return norm * tech.cycle_time_ns if absolute else norm


def _cost(
    footprints: Sequence[tuple[Footprint, float]], tech: Technology, org: MemoryOrganisation
) -> tuple[list[tuple[float, float, float, float]], float, float]:
    """Per domain (cycles, cycle length, dynamic, leakage rate), the read time and the inference time."""
    absolute = tech.has_absolute_energy
    leaks = any(_per_cell_time(tech, v) > 0 for _, v in footprints)
    given = org.inference_time_ns
    if given is not None and not absolute:
        raise InputError(
            f"`memory.inference_time_ns` needs a preset with absolute timing and energy; {tech.name} "
            "has only normalised figures"
        )
    # The clock matters where the arrays leak for as long as the reads take (with a given time and
    # no delay model the given time is taken as it is: the reads cannot be checked against it).
    time_needed = leaks and given is None
    parts, read_time = [], 0.0
    for fp, v in footprints:
        cycles = fp.read_cycles(org.banks) * org.reads_per_weight
        cycle = _cycle(tech, v, time_needed)
        dynamic = fp.n_words * org.reads_per_weight * fp.read_weight * _per_bit_read(tech, v)
        parts.append((cycles, cycle, dynamic, fp.leak_weight * _per_cell_time(tech, v)))
        read_time += cycles * cycle if not math.isnan(cycle) else 0.0
    inference = read_time if given is None else max(given, read_time)
    return parts, read_time, inference


def memory_energy(
    domains: Sequence[tuple[MemoryImage, float]],
    tech: Technology,
    organisation: MemoryOrganisation | None = None,
    reference: MemoryImage | None = None,
) -> EnergyReport:
    """Energy of one inference that reads every domain's image at its own voltage.

    ``domains``: ``(image, voltage)`` pairs, one per voltage domain, each image packed on its own
    (so each starts a fresh array).  ``reference``: the whole image, unprotected, packed as one
    (default: the domains' weights repacked as one domain without check bits); the normalised
    figures are relative to it at v_nominal with the same organisation.
    """
    tech = _check_tech(tech)
    org = organisation if organisation is not None else MemoryOrganisation()
    if not isinstance(org, MemoryOrganisation):
        raise InputError(f"organisation must be a MemoryOrganisation, got {type(org).__name__}")
    if not domains:
        raise InputError("memory_energy needs at least one (MemoryImage, voltage) domain")
    footprints = []
    for item in domains:
        try:
            image, voltage = item
        except (TypeError, ValueError):
            raise InputError("each domain is a (MemoryImage, voltage) pair") from None
        if not isinstance(image, MemoryImage):
            raise InputError(f"the energy model needs a MemoryImage, got {type(image).__name__}")
        footprints.append((Footprint.of(image), float(tech.check_voltage(voltage))))
    first = domains[0][0].layout
    if reference is None:
        per_word = first.weights_per_word
        n_weights = sum(img.n_weights for img, _ in domains)
        ref_fp = Footprint(max(1, -(-n_weights // per_word)), first.word_bits, first.rows, first.interleave)
    elif isinstance(reference, MemoryImage):
        lay = reference.layout
        ref_fp = Footprint(reference.n_words, lay.word_bits, lay.rows, lay.interleave)
    else:
        raise InputError(f"reference must be a MemoryImage, got {type(reference).__name__}")

    parts, read_time, inference = _cost(footprints, tech, org)
    ref_parts, _, ref_time = _cost([(ref_fp, tech.v_nominal)], tech, org)
    ref_total = ref_parts[0][2] + ref_parts[0][3] * ref_time
    out_domains = []
    for (fp, v), (cycles, cycle, dynamic, leak_rate) in zip(footprints, parts, strict=True):
        leakage = leak_rate * inference
        out_domains.append(
            DomainEnergy(v, fp.n_words, fp.cells, cycles, cycle, dynamic, leakage,
                         dynamic / ref_total, leakage / ref_total)  # fmt: skip
        )
    dynamic = sum(d.dynamic for d in out_domains)
    leakage = sum(d.leakage for d in out_domains)
    total = dynamic + leakage
    absolute = tech.has_absolute_energy
    volts = {v for _, v in footprints}
    single = volts.pop() if len(volts) == 1 else None
    # in ns when the reads are timed, or when the accelerator's time is given (then it is the leakage time)
    timed = absolute and (all(not math.isnan(p[1]) for p in parts) or org.inference_time_ns is not None)
    return EnergyReport(
        voltage=single,
        words_read=sum(fp.n_words for fp, _ in footprints) * org.reads_per_weight,
        bits_per_word=first.phys_bits,
        ecc_overhead=first.phys_bits / first.word_bits,
        inference_time_ns=inference if timed else None,
        dynamic_pj=dynamic if absolute else None,
        leakage_pj=leakage if absolute else None,
        total_pj=total if absolute else None,
        dynamic_norm=dynamic / ref_total,
        leakage_norm=leakage / ref_total,
        total_norm=total / ref_total,
        leakage_share=leakage / total if total > 0 else 0.0,
        read_time_ns=read_time if timed else None,
        access_time_ns=parts[0][1] if (timed and single is not None) else None,
        cells=sum(fp.cells for fp, _ in footprints),
        unit="pJ" if absolute else "relative",
        dynamic=dynamic,
        leakage=leakage,
        total=total,
        domains=tuple(out_domains),
    )


def inference_energy(
    image: MemoryImage,
    tech: Technology,
    voltage: float,
    reads_per_weight: float | None = None,
    organisation: MemoryOrganisation | None = None,
) -> EnergyReport:
    """Return the energy of reading ``image`` at ``voltage`` once per inference.

    This is :func:`memory_energy` with one domain.  ``reads_per_weight`` overrides the organisation's.
    """
    if not isinstance(image, MemoryImage):
        raise InputError(f"inference_energy needs a MemoryImage, got {type(image).__name__}")
    org = organisation if organisation is not None else MemoryOrganisation()
    if reads_per_weight is not None:
        org = MemoryOrganisation(org.banks, org.inference_time_ns, reads_per_weight)
    return memory_energy([(image, voltage)], tech, org)


def cost_table(bits: int = 4, word_bits: int = 64) -> list[dict[str, Any]]:
    """One row per scheme: check bits, cells by kind, overheads, source (README and reports)."""
    rows = []
    for name, scheme in PROTECTION_SCHEMES.items():
        lay = WordLayout(bits=bits, word_bits=word_bits, protect=name)
        cost = protection_cost(lay)
        rows.append(
            {
                "scheme": name,
                "check_bits": cost.check_bits,
                "cells_6t": cost.cells.get("6T", 0),
                "cells_8t": cost.cells.get("8T", 0),
                "area_overhead": round(cost.area_overhead, 6),
                "read_energy_overhead": round(cost.read_energy_overhead, 6),
                "leakage_overhead": round(cost.leakage_overhead, 6),
                "weights_zeroed_per_detection": (
                    weights_zeroed_per_detection(lay) if scheme.zeroes_words else 0
                ),
                "source": scheme.source,
            }
        )
    return rows
