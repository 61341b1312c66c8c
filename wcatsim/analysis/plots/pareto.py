"""Accuracy versus energy per inference: every sweep's operating points and its Pareto front."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wcatsim.analysis.pareto import Sweep
from wcatsim.analysis.plots.style import (
    COLLAPSED_LABEL,
    COLLAPSED_TITLE,
    COLUMN_WIDTH_IN,
    LEGEND_LINE_IN,
    P05_STYLE,
    color_for,
    new_figure,
    save_figure,
)

# Runs that share a quantizer (ECC on/off, two presets, two bit widths) share its colour;
# line style and marker tell them apart.  When every sweep is of one quantizer (one model under
# several protection schemes), each gets a palette colour of its own.
_LINESTYLES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D", "v", "P"]


def plot_pareto(
    sweeps: Sequence[Sweep],
    path: str | Path,
    metric: str = "mean",
    budget: float = 1.0,
    title: str | None = None,
    plans: Sequence[Mapping[str, Any] | None] | None = None,
    bands: Sequence[tuple[Any, Any, Any] | None] | None = None,
) -> list[Path]:
    """Draw every sweep's points and front on one figure; save PNG + PDF; return the paths.

    Top panel: the whole sweep. Bottom panel: the same, zoomed on the accuracies
    within a few points of clean, where the iso-accuracy operating points are; each
    sweep's iso-accuracy point at ``budget`` is starred (hollow star: bounded by the
    sweep, the saving is a lower bound).  ``plans``: per sweep, a voltage plan of the
    same model (``plan_voltage.json`` as a dict, or None; a plan over both memories is not drawn: its
    energy counts the activation buffer), drawn as a diamond at its
    energy and its accuracy verified on held-out chips (read with ``metric``).  ``bands``: per sweep,
    ``(energy_norm, acc_low, acc_high)`` or None, shaded in the sweep's colour: the technology band
    (:func:`wcatsim.analysis.uncertainty.band_curve`, the mean accuracy on the preset's other
    plausible BER curves).  Where the sweeps have them (``Sweep.acc_p05``, ``Sweep.collapsed_share``), the
    5th percentile over chips of every point is drawn dotted (▽) in both panels, and a third panel gives
    the share of chips more than 10 points below clean against energy (issue 17 §6).
    """
    if not sweeps:
        from sram_models.errors import InputError

        raise InputError("plot_pareto: no sweeps to draw")
    # The legend goes below both panels, one run per line (it never covers a curve); the figure grows
    # by a legend line per run so that the panels keep their size however many runs are compared.
    tails = any(s.collapsed_share is not None and not np.isnan(s.collapsed_share).all() for s in sweeps)
    fig, axes = new_figure(
        width=COLUMN_WIDTH_IN, height=4.2 + 1.1 * tails + LEGEND_LINE_IN * len(sweeps), nrows=2 + tails,
        height_ratios=[2, 2, 1] if tails else None,
    )  # fmt: skip
    ax_full, ax_zoom = axes[0], axes[1]
    ylabel = "Accuracy, mean over chips (%)" if metric == "mean" else "Accuracy, lower 95% CI (%)"
    seen_per_colour: dict[str, int] = {}
    zoom_lo, zoom_hi = float("inf"), float("-inf")
    quantizers = {str(s.info.get("quantizer") or s.label.split()[0]) for s in sweeps}
    for k, s in enumerate(sweeps):
        quantizer = str(s.info.get("quantizer") or s.label.split()[0])
        # one model under several protection schemes (h7): a colour per sweep, the legend names the scheme
        colour = color_for("", k) if len(quantizers) == 1 and len(sweeps) > 1 else color_for(quantizer, k)
        n = seen_per_colour.get(colour, 0)
        seen_per_colour[colour] = n + 1
        style, marker = _LINESTYLES[n % len(_LINESTYLES)], _MARKERS[n % len(_MARKERS)]
        y = s.metric_values(metric)
        on_front = s.front(metric)
        order = s.energy_norm[on_front].argsort()
        iso = s.iso(budget, metric)
        for ax in (ax_full, ax_zoom):
            ax.scatter(s.energy_norm, y, s=9, color=colour, alpha=0.35, marker=marker, linewidths=0)
            ax.plot(
                s.energy_norm[on_front][order],
                y[on_front][order],
                linestyle=style,
                marker=marker,
                color=colour,
                label=s.label if ax is ax_full else None,
            )
            ax.plot(
                [iso.energy_norm],
                [iso.accuracy],
                marker="*",
                markersize=9,
                color=colour,
                markerfacecolor="white" if iso.bounded_by_sweep else colour,
                linestyle="none",
            )
        by_energy = s.energy_norm.argsort()
        if s.acc_p05 is not None:
            for ax in (ax_full, ax_zoom):
                ax.plot(s.energy_norm[by_energy], s.acc_p05[by_energy], color=colour, **P05_STYLE)
        if tails and s.collapsed_share is not None:
            axes[2].plot(s.energy_norm[by_energy], 100 * s.collapsed_share[by_energy], color=colour,
                         marker=marker, markersize=2.5, linewidth=0.9, linestyle=style)  # fmt: skip
        band = bands[k] if bands is not None and k < len(bands) else None
        if band is not None:
            energy, low, high = (np.asarray(a, dtype=float) for a in band)
            order_e = energy.argsort()
            for ax in (ax_full, ax_zoom):
                ax.fill_between(energy[order_e], low[order_e], high[order_e], color=colour, alpha=0.15,
                                linewidth=0)  # fmt: skip
        plan = plans[k] if plans is not None and k < len(plans) else None
        # a plan over both memories (target both) counts the activation buffer's energy: not on this axis
        if plan and plan.get("target", "weights") == "weights":
            accuracy = plan["verified_acc_mean"] if metric == "mean" else plan["verified_ci_low"]
            for ax in (ax_full, ax_zoom):
                ax.plot([plan["energy_norm"]], [accuracy], marker="D", markersize=5, color=colour,
                        markeredgecolor="black", markeredgewidth=0.6, linestyle="none")  # fmt: skip
        ax_zoom.axhline(s.clean_acc - budget, color=colour, linewidth=0.6, linestyle=":", alpha=0.8)
        zoom_lo = min(zoom_lo, s.clean_acc - 3 * max(budget, 1.0))
        zoom_hi = max(zoom_hi, s.clean_acc + 0.5)
    ax_zoom.set_ylim(zoom_lo, zoom_hi)
    for ax in (ax_full, ax_zoom):
        ax.set_xlabel("Energy per inference (relative to nominal V)")
        ax.set_ylabel(ylabel)
    if tails:
        axes[2].set_xlabel("Energy per inference (relative to nominal V)")
        axes[2].set_ylabel(COLLAPSED_LABEL)
        axes[2].set_ylim(-5, 105)
        axes[2].set_title(COLLAPSED_TITLE, fontsize=7)
    marks = "★ = iso-accuracy point" + (", ▽ = 5th percentile" if tails else "")
    marked = plans and any(p and p.get("target", "weights") == "weights" for p in plans)
    marks += ", ◆ = per-domain voltage plan" if marked else ""
    if bands and any(b is not None for b in bands):
        marks += ", shade = technology band"
    ax_zoom.set_title(f"zoom: dotted = clean − {budget:g} pt, {marks}", fontsize=7)
    ax_full.set_title(title or "Accuracy vs weight-SRAM energy (lines: Pareto fronts)")
    handles, labels = ax_full.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=1, frameon=False)
    return save_figure(fig, path)
