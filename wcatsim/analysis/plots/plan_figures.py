"""The plan's figures: voltage per domain, and the plan on the run's Pareto figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

PLAN_FIGURE = "plan_voltage.png"


def draw_plan_figures(plan: Mapping[str, Any], path: str | Path, run_dir: str | Path) -> list[Path]:
    """The plan at ``path`` (PNG + PDF; e.g. ``plan_voltage.png``); and beside it ``STEM_pareto.png``, the
    run's voltage sweep with the plan marked, when the run has a sweep whose energies compare: the plan's
    preset, protection scheme, word width and memory organisation, and a plan of the weights alone (a plan
    over both memories counts the buffer's energy, which the weights' sweep does not).  Returns the PNG
    paths written."""
    from wcatsim.analysis.pareto import SWEEP_FILE, load_sweep
    from wcatsim.analysis.plots.pareto import plot_pareto
    from wcatsim.analysis.plots.plan import plot_plan
    from wcatsim.store.atomic import read_json_object

    path, run_dir = Path(path), Path(run_dir)
    written = [p for p in plot_plan(plan, path) if p.suffix == ".png"]
    if (run_dir / SWEEP_FILE).is_file() and plan.get("target", "weights") == "weights":
        sweep = load_sweep(run_dir)
        swept = read_json_object((run_dir / SWEEP_FILE).with_suffix(".json")).get("settings") or {}
        same = all(swept.get(k) in (None, plan.get(k)) for k in ("protect", "word_bits", "organisation"))
        if sweep.info.get("preset") in (None, plan.get("preset")) and same:
            pareto = path.with_name(path.stem + "_pareto.png")
            paths = plot_pareto([sweep], pareto, metric=str(plan.get("metric", "mean")),
                                budget=float(plan.get("budget", 1.0)), plans=[plan])  # fmt: skip
            written += [p for p in paths if p.suffix == ".png"]
    return written


__all__ = ["PLAN_FIGURE", "draw_plan_figures"]
