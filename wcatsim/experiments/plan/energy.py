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

Not modelled: the level shifters and regulators that extra voltage domains need.
Their cost depends on the power-delivery design (an on-chip regulator per domain
or separate rails), and no figure for a weight SRAM was found that carries over, so
``energy_norm`` excludes it (so does ``sram_models.energy``) and the README says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ENERGY_MODEL = (
    "sram_models.energy.memory_energy: each domain in arrays of its own (padding cells leak), read at "
    "its own voltage, every domain leaking for the whole inference; normalised to the whole image "
    "unprotected at nominal; level shifters and regulators not modelled"
)


@dataclass(frozen=True)
class DomainsEnergy:
    """Energy per inference of a plan, relative to the whole image unprotected at nominal."""

    total_norm: float
    domain_norm: tuple[float, ...]
    """each domain's part (sums to ``total_norm``)"""


def domains_energy(
    images: Sequence[Any], voltages: Sequence[float], technology: Any, reference: Any,
    organisation: Any = None,
) -> DomainsEnergy:  # fmt: skip
    """Energy of reading every ``images[d]`` at ``voltages[d]`` once per inference, over that of
    ``reference`` (the whole image packed as one memory, unprotected) at the nominal voltage, with
    the memory ``organisation`` (default: sram_models' default, as the sweeps)."""
    from sram_models.energy import memory_energy

    report = memory_energy(
        [(image, float(v)) for image, v in zip(images, voltages, strict=True)], technology,
        organisation, reference=reference,
    )  # fmt: skip
    parts = tuple(float(d.dynamic_norm + d.leakage_norm) for d in report.domains)
    return DomainsEnergy(float(report.total_norm), parts)


__all__ = ["ENERGY_MODEL", "DomainsEnergy", "domains_energy"]
