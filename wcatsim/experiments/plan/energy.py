"""Energy per inference of weights held in several voltage domains: the planner's one energy call.

:func:`domains_energy` is the only place the planner asks for energy.  It is
:func:`sram_models.energy.memory_energy`, the model the voltage sweeps use (their
``inference_energy`` is its one-domain case), with the same memory organisation
(banks read in parallel, the clock following the access time at each domain's
voltage, or the accelerator's inference time): each domain's words fill arrays of
their own, aligned at array boundaries, read at the domain's voltage; every domain's
cells (the padding of its last array and any protection cells included) leak at its
voltage for the whole inference; the sum is normalised to the whole image, packed
as one memory and unprotected, at the nominal voltage.

**Level shifters** (:class:`LevelShifters`): the read path that takes the weights
out of the memory runs on the memory's highest rail (in a uniform design, its only
rail).  A bit read from a domain at a lower voltage crosses into it through a level
shifter; a signal going the other way (address, control) needs none, since a gate
on the lower rail can take a higher-swing input.  So a plan pays, per inference,
``bits read from every domain below the highest x activity x energy per
transition``, and a plan whose domains all sit at one voltage (the uniform design)
pays nothing.  The cost counts in ``total_norm`` and so in ``saving_over_uniform``.
If the datapath instead ran at nominal above every domain, every bit of the plan
and of the uniform design would cross alike (except bits of a domain at nominal),
and the crossing would drop out of the comparison: this model charges the plan
for its extra domain boundaries.  The default energy per transition is a simulated
figure (no measured one was found; :data:`LEVEL_SHIFTER_SOURCE`).  Not modelled: the
shifters' static power (27.82 pW each in You et al.'s 55 nm design: 57 nW for 32 banks x 64
bit lines, negligible beside the arrays' leakage), their delay, and
the regulators that extra rails need (they depend on the power-delivery design).

**The activation buffer** (``buffer``, ``plan-voltage --target both``) is one more domain after the
weights': its energy is :meth:`wcatsim.memory.activations.ActivationBuffer.energy` at its voltage
(every activation of an inference written and read once, its capacity leaking), and every figure is
then over both memories at nominal, each unprotected (the sweeps' both normalisation,
:func:`wcatsim.memory.activations.combined_energy`).  Its reads cross level shifters like any domain's
when it sits below the highest; its writes come from the read path's rail and cross none.

**The buffer alone** (``plan-voltage --target activations``, :func:`buffer_alone_energy`): the buffer
is the one planned domain; the weights, fault-free, sit in one memory (the plan's layout) at the
technology's nominal voltage, as ``sweep-voltage --target activations`` costs them.  Their energy is
held (``DomainsEnergy.held_norm``), counted in every total, never planned; the buffer's reads cross
level shifters whenever it sits below nominal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sram_models.errors import InputError

LEVEL_SHIFTER_SOURCE = (
    "energy_fj: J. Park, H. Jeong, 'Energy-efficient wide-range level shifter with a logic error "
    "detection circuit', IEEE TVLSI 31(5):701, 2023: 20.43 fJ per transition, 7 nm FinFET, 0.4 -> 1.2 V, "
    "0.21 ns, post-layout SIMULATION (abstract, secondary; no measured figure was found; H. You et al., "
    "IEICE ELEX 16(19), 2019 simulate 89.55 fJ at 55 nm, 0.3 -> 1.2 V, 70.77 ns, a slow ultra-low-leakage "
    "design). activity 0.5: ASSUMED, a bit of random data toggles between two successive reads half the "
    "time. bit_read_fj (presets without absolute energy only): ASSUMED, 52.5 fJ per bit access at 0.45 V "
    "of a 28 nm FD-SOI 128 kb 6T SRAM ('A 0.36V 128Kb 6T SRAM with energy-efficient dynamic body-biasing "
    "and output data prediction in 28nm FDSOI', abstract, secondary) scaled by C V^2 to "
    "a 1.0 V nominal, 52.5 / 0.45^2 = 259.26 fJ: the read energy of one bit at nominal that the "
    "crossing is expressed in"
)


@dataclass(frozen=True)
class LevelShifters:
    """What a bit read from a lower voltage domain into the read path's rail costs (module docstring).

    A stated parameter: the defaults are the figures of :data:`LEVEL_SHIFTER_SOURCE`;
    ``LevelShifters(energy_fj=0.0)`` leaves the shifters out.
    """

    energy_fj: float = 20.43
    """energy per output transition of one level shifter (fJ)"""
    activity: float = 0.5
    """transitions per bit read (0.5: random data)"""
    bit_read_fj: float = 52.5 / 0.45**2
    """presets with normalised energy only: the read energy of one bit at nominal (fJ) that the
    crossing's energy is expressed in"""

    def __post_init__(self) -> None:
        for name in ("energy_fj", "activity", "bit_read_fj"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"level shifters: {name} must be a number, got {value!r}")
        if self.energy_fj < 0 or not 0 <= self.activity <= 1 or not self.bit_read_fj > 0:
            raise InputError(
                "level shifters: energy_fj must be >= 0 fJ, activity in [0, 1], bit_read_fj > 0 fJ"
            )

    def per_bit(self, absolute: bool) -> float:
        """Energy of one bit crossing, in pJ (``absolute``) or in read energies of one bit at nominal."""
        joules = self.activity * self.energy_fj
        return joules * 1e-3 if absolute else joules / self.bit_read_fj

    def describe(self) -> dict[str, Any]:
        """The parameters as results record them, with their sources."""
        return {**asdict(self), "source": LEVEL_SHIFTER_SOURCE}


DEFAULT_LEVEL_SHIFTERS = LevelShifters()

ENERGY_MODEL = (
    "sram_models.energy.memory_energy: each domain in arrays of its own (padding cells leak), read at "
    "its own voltage, every domain leaking for the whole inference; normalised to the whole image "
    "unprotected at nominal; plus level shifters: every bit read from a domain below the highest crosses "
    "one (activity x energy per transition; the uniform design pays none); regulators not modelled"
)
BUFFER_ENERGY_MODEL = (
    "; target both: the activation buffer is one more domain (ActivationBuffer.energy at its voltage: "
    "every activation written and read once per inference, its capacity leaking; its reads cross level "
    "shifters like any domain's), everything over both memories unprotected at nominal"
)


@dataclass(frozen=True)
class DomainsEnergy:
    """Energy per inference of a plan, relative to the whole image unprotected at nominal (with a buffer:
    to both memories unprotected at nominal)."""

    total_norm: float
    """the memory's energy plus the level shifters'"""
    domain_norm: tuple[float, ...]
    """each domain's part, its bits' level shifting included (sums to ``total_norm``)"""
    level_shifter_norm: float = 0.0
    """the level shifters' part of ``total_norm`` (0 when every domain is at one voltage)"""
    held_norm: float = 0.0
    """the part of ``total_norm`` spent by memories held at nominal outside the planned domains (target
    activations: the weights, their level shifters included); ``domain_norm`` sums to the rest"""

    @property
    def memory_norm(self) -> float:
        """The memory's energy alone (reads and leakage), without the level shifters."""
        return self.total_norm - self.level_shifter_norm


def crossing_bits(
    images: Sequence[Any], voltages: Sequence[float], reads_per_weight: float = 1.0, buffer: Any = None
) -> list[float]:
    """Bits per inference that each domain sends through level shifters: all it reads (check bits too)
    when it sits below the highest domain's voltage, none otherwise.

    ``buffer`` (an :class:`wcatsim.memory.activations.ActivationBuffer`, its voltage ``voltages[-1]``):
    the bits it reads back per inference cross like any domain's; its writes come from the read path's
    rail, the highest, and need no shifter (module docstring).
    """
    bits = [float(image.n_words * image.layout.phys_bits * reads_per_weight) for image in images]
    if buffer is not None:
        bits.append(float(buffer.words_per_inference * buffer.layout.phys_bits * reads_per_weight))
    if len(bits) != len(voltages):
        raise InputError(f"{len(bits)} domains but {len(voltages)} voltages")
    top = max(float(v) for v in voltages)
    return [b if float(v) < top - 1e-12 else 0.0 for b, v in zip(bits, voltages, strict=True)]


def domains_energy(
    images: Sequence[Any], voltages: Sequence[float], technology: Any, reference: Any,
    organisation: Any = None, shifters: LevelShifters | None = None, buffer: Any = None,
) -> DomainsEnergy:  # fmt: skip
    """Energy per inference of the weight domains and, optionally, the activation buffer.

    Parameters
    ----------
    images : sequence of sram_models.MemoryImage
        Each weight domain's packed image, read once per inference at ``voltages[d]``.
    voltages : sequence of float
        One voltage per image, then the buffer's when ``buffer`` is given.
    technology : sram_models.Technology
        Both memories' technology.
    reference : sram_models.MemoryImage
        The whole weight image packed as one memory, unprotected: without a buffer the energies are
        over its energy at the nominal voltage.
    organisation : sram_models.energy.MemoryOrganisation, optional
        Default: sram_models' default, as the sweeps.
    shifters : LevelShifters, optional
        Level shifters between domains (default :data:`DEFAULT_LEVEL_SHIFTERS`).
    buffer : wcatsim.memory.activations.ActivationBuffer, optional
        The activation buffer as one more domain (``plan-voltage --target both``): its energy is
        :meth:`~wcatsim.memory.activations.ActivationBuffer.energy` at its voltage, and every energy is
        then over the nominal energy of both memories, each unprotected (the reference above plus the
        buffer's), as the sweeps' ``both`` table (:func:`wcatsim.memory.activations.combined_energy`).

    Returns
    -------
    DomainsEnergy
        ``domain_norm`` has one entry per image, then the buffer's.
    """
    from sram_models.energy import MemoryOrganisation, memory_energy

    org = organisation if organisation is not None else MemoryOrganisation()
    shifters = DEFAULT_LEVEL_SHIFTERS if shifters is None else shifters
    if len(voltages) != len(images) + (buffer is not None):
        raise InputError(
            f"{len(images)} weight domains{' and the buffer' if buffer is not None else ''} "
            f"but {len(voltages)} voltages"
        )
    report = memory_energy(
        [(image, float(v)) for image, v in zip(images, voltages[: len(images)], strict=True)], technology,
        org, reference=reference,
    )  # fmt: skip
    if buffer is None:
        # the report's own unit (pJ, or read energies of one bit at nominal) per unit of total_norm
        per_norm = report.total / report.total_norm
        memory = [d.dynamic_norm + d.leakage_norm for d in report.domains]
        memory_total = report.total_norm
    else:
        from wcatsim.memory.activations import combined_energy

        act = buffer.energy(technology, float(voltages[-1]), org)
        both = combined_energy(report, act)  # both memories over both at nominal
        memory_total = both["energy_norm"]
        per_norm = (report.total + act.total) / memory_total
        memory = [(d.dynamic + d.leakage) / per_norm for d in report.domains] + [act.total / per_norm]
    per_bit = shifters.per_bit(report.unit == "pJ") / per_norm
    crossing = [bits * per_bit for bits in crossing_bits(images, voltages, org.reads_per_weight, buffer)]
    parts = tuple(float(m + c) for m, c in zip(memory, crossing, strict=True))
    return DomainsEnergy(float(memory_total + sum(crossing)), parts, float(sum(crossing)))


BUFFER_ALONE_ENERGY_MODEL = (
    "; target activations: the activation buffer is the one planned domain (ActivationBuffer.energy at "
    "its voltage, its reads crossing level shifters below nominal); the weights, fault-free, in one memory "
    "at the nominal voltage (held, not planned), everything over both memories unprotected at nominal"
)


def buffer_alone_energy(
    weights: Any, voltage: float, technology: Any, reference: Any, buffer: Any,
    organisation: Any = None, shifters: LevelShifters | None = None,
) -> DomainsEnergy:  # fmt: skip
    """Energy per inference of the activation buffer at ``voltage`` beside the weights held at nominal.

    ``plan-voltage --target activations`` plans the buffer alone: this is :func:`domains_energy` of the
    weights (one memory, ``weights``) at ``technology.v_nominal`` and the buffer at ``voltage``, with the
    weights' part moved out of ``domain_norm`` into ``held_norm`` (the plan has one domain, the buffer).

    Parameters
    ----------
    weights : sram_models.MemoryImage
        Every weight packed as one memory in the plan's layout (its protection cells read too).
    voltage : float
        The buffer's supply voltage.
    technology : sram_models.Technology
        Both memories' technology.
    reference : sram_models.MemoryImage
        The whole weight image packed as one memory, unprotected (with the buffer's own reference, the
        nominal energy every figure is over).
    buffer : wcatsim.memory.activations.ActivationBuffer
        The buffer.
    organisation : sram_models.energy.MemoryOrganisation, optional
        Default: sram_models' default, as the sweeps.
    shifters : LevelShifters, optional
        Level shifters (default :data:`DEFAULT_LEVEL_SHIFTERS`).

    Returns
    -------
    DomainsEnergy
        ``domain_norm``: the buffer's part alone; ``held_norm``: the weights'.
    """
    if buffer is None:
        raise InputError("the buffer alone needs a buffer")
    got = domains_energy([weights], [float(technology.v_nominal), float(voltage)], technology, reference,
                         organisation, shifters, buffer)  # fmt: skip
    return DomainsEnergy(got.total_norm, got.domain_norm[1:], got.level_shifter_norm, got.domain_norm[0])


__all__ = [
    "BUFFER_ALONE_ENERGY_MODEL",
    "BUFFER_ENERGY_MODEL",
    "DEFAULT_LEVEL_SHIFTERS",
    "ENERGY_MODEL",
    "LEVEL_SHIFTER_SOURCE",
    "DomainsEnergy",
    "LevelShifters",
    "buffer_alone_energy",
    "crossing_bits",
    "domains_energy",
]
