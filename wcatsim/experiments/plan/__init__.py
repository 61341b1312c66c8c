"""Per-layer voltage planning: one supply voltage per domain of layers, least energy within a budget.

- :mod:`wcatsim.experiments.plan.domains`: which layers share a supply (``--domains``), and the activation
  buffer's domain (``--target both``);
- :mod:`wcatsim.experiments.plan.chips`: the domains' own arrays and their chips' faults (common random
  numbers, disjoint planning and verification chips);
- :mod:`wcatsim.experiments.plan.subsets`: each planning chip's own image subset (``--images N``, the nested
  design of the sensitivity curves);
- :mod:`wcatsim.experiments.plan.energy`: the energy of several domains at their own voltages;
- :mod:`wcatsim.experiments.plan.search`: greedy descent, back-off, uniform baseline (plain arrays);
- :mod:`wcatsim.experiments.plan.planner`: :func:`plan_voltage`, which runs them and writes the plan.
"""

from __future__ import annotations

from sram_models.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Domain": "wcatsim.experiments.plan.domains", "load_domains": "wcatsim.experiments.plan.domains",
    "buffer_domain": "wcatsim.experiments.plan.domains",
    "DomainChips": "wcatsim.experiments.plan.chips", "domain_chip_seed": "wcatsim.experiments.plan.chips",
    "BufferChips": "wcatsim.experiments.plan.chips",
    "domains_energy": "wcatsim.experiments.plan.energy", "DomainsEnergy": "wcatsim.experiments.plan.energy",
    "LevelShifters": "wcatsim.experiments.plan.energy",
    "greedy_descent": "wcatsim.experiments.plan.search", "back_off": "wcatsim.experiments.plan.search",
    "PlanSettings": "wcatsim.experiments.plan.planner", "VoltagePlan": "wcatsim.experiments.plan.planner",
    "plan_voltage": "wcatsim.experiments.plan.planner", "format_plan": "wcatsim.experiments.plan.planner",
}  # fmt: skip

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
