"""Per-layer voltage planning: one supply voltage per domain of layers, least energy within a budget.

- :mod:`wcatsim.planning.domains`: which layers share a supply (``--domains``);
- :mod:`wcatsim.planning.chips`: the domains' own arrays and their chips' faults (common random
  numbers, disjoint planning and verification chips);
- :mod:`wcatsim.planning.energy`: the energy of several domains at their own voltages;
- :mod:`wcatsim.planning.search`: greedy descent, back-off, uniform baseline (plain arrays);
- :mod:`wcatsim.planning.planner`: :func:`plan_voltage`, which runs them and writes the plan.
"""

from __future__ import annotations

from sram_models.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Domain": "wcatsim.planning.domains", "load_domains": "wcatsim.planning.domains",
    "DomainChips": "wcatsim.planning.chips", "domain_chip_seed": "wcatsim.planning.chips",
    "domains_energy": "wcatsim.planning.energy", "DomainsEnergy": "wcatsim.planning.energy",
    "greedy_descent": "wcatsim.planning.search", "back_off": "wcatsim.planning.search",
    "PlanSettings": "wcatsim.planning.planner", "VoltagePlan": "wcatsim.planning.planner",
    "plan_voltage": "wcatsim.planning.planner", "format_plan": "wcatsim.planning.planner",
}  # fmt: skip

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
