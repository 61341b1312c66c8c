"""Figures of fault sweeps: accuracy against BER, and accuracy and energy against supply voltage.

Both take one or more tables (label -> rows as :func:`wcatsim.sweeps.random_flip_sweep`
and :func:`wcatsim.sweeps.voltage_sweep` return them, or as read from their CSVs),
so one figure compares quantizers; a label starting with a quantizer's name
(``wcat``, ``maxabs`` ...) gets that quantizer's fixed colour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.plots.style import DOUBLE_WIDTH_IN, color_for, new_figure, save_figure

Rows = Sequence[Mapping[str, Any]]


def _num(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    return float(value)


def _column(rows: Rows, name: str) -> list[float]:
    return [_num(row.get(name)) for row in rows]


def plot_accuracy_vs_ber(
    tables: Mapping[str, Rows], path: str | Path, title: str | None = None
) -> list[Path]:
    """Mean accuracy with its 95% CI band against BER (log axis); clean accuracy dashed.

    BER 0 cannot sit on a log axis: it is the clean accuracy, drawn as the dashed line.
    """
    fig, ax = new_figure()
    for i, (label, rows) in enumerate(tables.items()):
        colour = color_for(label, i)
        points = sorted((r for r in rows if _num(r["ber"]) > 0), key=lambda r: _num(r["ber"]))
        ber = _column(points, "ber")
        ax.plot(ber, _column(points, "acc_mean"), marker="o", color=colour, label=label)
        ax.fill_between(ber, _column(points, "ci_low"), _column(points, "ci_high"), color=colour, alpha=0.25,
                        linewidth=0)
        if rows:
            ax.axhline(_num(rows[0]["clean_acc"]), color=colour, linestyle="--", linewidth=0.8, alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("bit error rate (BER)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title or "Accuracy under random bit errors (mean, 95% CI; dashed: clean)")
    ax.legend(loc="lower left")
    return save_figure(fig, path)


def plot_voltage_sweep(
    tables: Mapping[str, Rows], path: str | Path, title: str | None = None, voltage_unit: str = "V"
) -> list[Path]:
    """Accuracy (mean, 95% CI band over chips) against supply voltage, energy per inference on a twin axis.

    ``voltage_unit``: the preset's (``Technology.voltage_unit``), e.g. "V" or "Vmin" for a preset
    normalised to its lowest error-free voltage.
    """
    fig, ax = new_figure(width=DOUBLE_WIDTH_IN / 1.5, height=2.8)
    energy_ax = ax.twinx()
    energy_ax.spines["right"].set_visible(True)
    energy_ax.grid(False)
    energy_drawn = False
    for i, (label, rows) in enumerate(tables.items()):
        colour = color_for(label, i)
        points = sorted(rows, key=lambda r: _num(r["voltage"]))
        volts = _column(points, "voltage")
        ax.plot(volts, _column(points, "acc_mean"), marker="o", color=colour, label=f"{label} accuracy")
        ax.fill_between(
            volts, _column(points, "ci_low"), _column(points, "ci_high"), color=colour, alpha=0.25, lw=0
        )
        if not energy_drawn:
            # Energy depends on the memory image's size and layout only: one curve when the models share it.
            energy_ax.plot(volts, _column(points, "energy_norm"), color="0.3", linestyle=":", marker="s",
                           markersize=2.5, label="energy / inference")
            energy_drawn = True
    ax.set_xlabel(f"SRAM supply voltage ({voltage_unit})")
    ax.set_ylabel("test accuracy (%)")
    energy_ax.set_ylabel("energy per inference (relative to nominal)")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = energy_ax.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="lower right")
    ax.set_title(title or "Accuracy (mean, 95% CI over chips) and energy vs voltage")
    return save_figure(fig, path)


__all__ = ["plot_accuracy_vs_ber", "plot_voltage_sweep"]
