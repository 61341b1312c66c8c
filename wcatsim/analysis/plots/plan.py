"""The voltage plan as a figure: one bar per domain, as wide as its weights, as high as its voltage.

A plan over both memories (``plan-voltage --target both``) ends with the activation buffer's domain:
a hatched bar as wide as the activations it stores per inference; a plan of the buffer alone
(``--target activations``) has that bar only (its weights are held at nominal, not planned).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wcatsim.analysis.plots.style import COLUMN_WIDTH_IN, LEGEND_LINE_IN, PALETTE, new_figure, save_figure

# Neighbouring domains alternate between two blues so that their edges show.
_COLOURS = (PALETTE[0], PALETTE[5])
# Domain names are written on their bars while there are at most this many (ResNet-50's ~50 would overlap).
_MAX_LABELS = 12


def plot_plan(plan: Mapping[str, Any], path: str | Path, title: str | None = None) -> list[Path]:
    """Draw ``plan`` (the dict of ``plan_voltage.json``); save PNG + PDF; return the paths.

    x: the weights in memory order (each bar spans its domain's weights; the buffer's bar, hatched, its
    activations per inference); y: the domain's supply voltage.  Dashed: the best uniform voltage within
    the same budget; dotted: the lowest allowed.
    """
    domains = list(plan["domains"])
    if not domains:
        from sram_models.errors import InputError

        raise InputError("plot_plan: the plan has no domains")
    unit = plan.get("voltage_unit", "V")
    unit_text = "V" if unit in ("", "V") else f"× {unit}"
    grid = [float(v) for v in plan.get("voltages_allowed") or [d["voltage"] for d in domains]]
    # the legend (two lines) goes below the axes, as in every figure: it never covers a bar
    fig, ax = new_figure(width=COLUMN_WIDTH_IN, height=2.4 + 2 * LEGEND_LINE_IN)
    lo = min(grid + [float(d["voltage"]) for d in domains])
    hi = max(grid + [float(d["voltage"]) for d in domains] + [float(plan["uniform_voltage"])])
    pad = max(0.02 * (hi - lo), 1e-3)
    base = lo - 4 * pad
    x = 0
    buffer = False
    for i, d in enumerate(domains):
        held = d.get("kind") == "buffer"
        buffer = buffer or held
        width, volts = int(d["activations"] if held else d["weights"]), float(d["voltage"])
        ax.bar(x, volts - base, width=width, bottom=base, align="edge", color=_COLOURS[i % 2],
               edgecolor="white", linewidth=0.4, hatch="///" if held else None)  # fmt: skip
        if len(domains) <= _MAX_LABELS:
            ax.text(x + width / 2, volts + pad, str(d["name"]), ha="center", va="bottom", fontsize=6,
                    rotation=90 if len(domains) > 4 else 0)  # fmt: skip
        x += width
    ax.axhline(float(plan["uniform_voltage"]), color="black", linestyle="--", linewidth=0.8,
               label=f"uniform {float(plan['uniform_voltage']):.3g} {unit_text}")  # fmt: skip
    ax.axhline(min(grid), color="grey", linestyle=":", linewidth=0.8, label="lowest allowed")
    ax.set_xlim(0, x)
    ax.set_ylim(base, hi + 8 * pad)
    alone = buffer and all(d.get("kind") == "buffer" for d in domains)  # --target activations
    ax.set_xlabel("weights, in memory order (bar width = the domain's weights)" if not buffer else
                  "activations per inference (hatched: the activation buffer; the weights held at nominal)"
                  if alone else "weights, then activations per inference (hatched: the activation buffer)")
    ax.set_ylabel(f"supply voltage ({unit_text})")
    saving = float(plan["saving_over_uniform"])
    ax.set_title(title or (
        f"Voltage per domain: E/E_nom {float(plan['energy_norm']):.3f} vs uniform "
        f"{float(plan['uniform_energy_norm']):.3f} (saving {saving:.3f})"
    ), fontsize=7)  # fmt: skip
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=1, frameon=False)
    return save_figure(fig, path)


__all__ = ["plot_plan"]
