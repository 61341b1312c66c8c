"""The plan's figures: voltage per domain, and the plan on the run's Pareto figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

PLAN_FIGURE = "plan_voltage.png"
PARETO_FIGURE = "plan_voltage_pareto.png"


def draw_plan_figures(plan: Mapping[str, Any], out_dir: str | Path, run_dir: str | Path) -> list[Path]:
    """``plan_voltage.png`` (+ PDF) in ``out_dir``; and ``plan_voltage_pareto.png``, the run's voltage sweep
    with the plan marked, when the run has a sweep on the plan's preset (another preset's energies would
    not compare).  Returns the PNG paths written."""
    from wcatsim.pareto import SWEEP_FILE, load_sweep
    from wcatsim.plots.pareto import plot_pareto
    from wcatsim.plots.plan import plot_plan

    out_dir, run_dir = Path(out_dir), Path(run_dir)
    written = [p for p in plot_plan(plan, out_dir / PLAN_FIGURE) if p.suffix == ".png"]
    if (run_dir / SWEEP_FILE).is_file():
        sweep = load_sweep(run_dir)
        if sweep.info.get("preset") in (None, plan.get("preset")):
            paths = plot_pareto([sweep], out_dir / PARETO_FIGURE, metric=str(plan.get("metric", "mean")),
                                budget=float(plan.get("budget", 1.0)), plans=[plan])  # fmt: skip
            written += [p for p in paths if p.suffix == ".png"]
    return written


__all__ = ["PARETO_FIGURE", "PLAN_FIGURE", "draw_plan_figures"]
