"""Energy per inference of weights held in several voltage domains: the planner's one energy call.

:func:`domains_energy` is the only place the planner asks for energy, so that the
energy model is that of the sweeps and changing it is a one-place change.

ADAPTER (until the multi-domain energy API of issue 9 §4 lands in sram_models): each
domain's image is costed by today's :func:`sram_models.inference_energy` at the
domain's voltage, and the domains' energies are summed and normalised to the whole
image (packed as one memory, unprotected) at the nominal voltage.  With today's model
that means, per domain: every stored word read once at the domain's voltage (check
bits included), leakage of the domain's own cells at its voltage during its own reads.
What today's model does not do and the issue asks for: padding cells of a domain's
last array leak (today the array is sized to the words), and every domain leaks for
the whole inference.  Presets without absolute figures: the domains are weighted by
their share of the reference's words (exact when the preset gives leakage no weight,
as chandramoorthy14 does: then energy = dynamic reads, which add over words).

Not modelled (either way): the level shifters and regulators that extra voltage domains
need.  Their cost depends on the power-delivery design (on-chip LDO per domain or
off-chip rails); no figure for a weight SRAM was found that carries over, so
``energy_norm`` excludes it and the README says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sram_models.errors import InputError

ENERGY_MODEL = (
    "sram_models.inference_energy per domain (adapter awaiting the multi-domain energy API): each "
    "domain's words read at its own voltage, its own cells leaking during its own reads; level "
    "shifters and regulators not modelled"
)


@dataclass(frozen=True)
class DomainsEnergy:
    """Energy per inference of a plan, relative to the whole image unprotected at nominal."""

    total_norm: float
    domain_norm: tuple[float, ...]
    """each domain's part (sums to ``total_norm``)"""


def domains_energy(
    images: Sequence[Any], voltages: Sequence[float], technology: Any, reference: Any
) -> DomainsEnergy:
    """Energy of reading every ``images[d]`` at ``voltages[d]`` once per inference, over that of
    ``reference`` (the whole image packed as one memory, unprotected) at the nominal voltage."""
    from sram_models import inference_energy

    if len(images) != len(voltages) or not images:
        raise InputError("domains_energy: give one voltage per domain image (at least one)")
    ref = inference_energy(reference, technology, technology.v_nominal)
    parts = []
    for image, v in zip(images, voltages, strict=True):
        rep = inference_energy(image, technology, float(v))
        if ref.total_pj is not None and rep.total_pj is not None:
            parts.append(rep.total_pj / ref.total_pj)
        else:
            # total_norm is relative to the domain's own words unprotected at nominal; the reference's
            # words weight it (dynamic energy adds over words read).
            parts.append(rep.total_norm * image.n_words / reference.n_words)
    return DomainsEnergy(float(sum(parts)), tuple(float(p) for p in parts))


__all__ = ["ENERGY_MODEL", "DomainsEnergy", "domains_energy"]
