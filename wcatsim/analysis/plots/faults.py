"""Figures of fault sweeps: accuracy against BER, and accuracy and energy against supply voltage.

Both take one or more tables (label -> rows as :func:`wcatsim.experiments.sweeps.random_flip_sweep`
and :func:`wcatsim.experiments.sweeps.voltage_sweep` return them, or as read from their CSVs),
so one figure compares quantizers; a label starting with a quantizer's name
(``wcat``, ``maxabs`` ...) gets that quantizer's fixed colour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wcatsim.analysis.plots.style import (
    COLLAPSED_LABEL,
    COLLAPSED_TITLE,
    COLUMN_WIDTH_IN,
    DOUBLE_WIDTH_IN,
    P05_STYLE,
    color_for,
    new_figure,
    save_figure,
)

Rows = Sequence[Mapping[str, Any]]


def _num(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    return float(value)


def _column(rows: Rows, name: str) -> list[float]:
    return [_num(row.get(name)) for row in rows]


def _tail(ax: Any, share_ax: Any, x: list[float], points: Rows, colour: str) -> None:
    """The lower tail of each point: its 5th percentile on ``ax``, its collapsed share (percent) on
    ``share_ax`` (a table from before these columns draws neither: NaN is not drawn)."""
    ax.plot(x, _column(points, "acc_p05"), color=colour, **P05_STYLE)
    share_ax.plot(x, [100 * s for s in _column(points, "collapsed_share")], color=colour, marker="o",
                  markersize=2.5, linewidth=0.9)  # fmt: skip


def _share_axis(share_ax: Any) -> None:
    share_ax.set_ylabel(COLLAPSED_LABEL)
    share_ax.set_ylim(-5, 105)
    share_ax.set_title(COLLAPSED_TITLE, fontsize=7)


def ber_label(ber: float) -> str:
    """A BER as a short tick label: ``1e-4``, ``4e-4``, ``2.5e-3``, ``0.1`` (no padded exponents)."""
    exponent = math.floor(math.log10(ber))
    mantissa = round(ber / 10**exponent, 3)
    if mantissa >= 10:  # 9.9995e-4 rounds up to the next decade
        mantissa, exponent = mantissa / 10, exponent + 1
    if -1 <= exponent <= 0:
        return f"{ber:g}"
    return f"{mantissa:g}e{exponent}"


# Room a vertical tick label needs along the axis (7 pt text plus a gap), inches.
_TICK_IN = 0.13


def _ber_axis_width(bers: Sequence[float]) -> float:
    """Figure width at which the two closest BERs' labels do not overlap (column width at least)."""
    logs = sorted({math.log10(b) for b in bers})
    if len(logs) < 2:
        return COLUMN_WIDTH_IN
    span = logs[-1] - logs[0] + 0.2  # matplotlib's log-axis margins, in decades (about)
    closest = min(b - a for a, b in zip(logs, logs[1:], strict=False))
    axes_in = span / closest * _TICK_IN
    return min(DOUBLE_WIDTH_IN, max(COLUMN_WIDTH_IN, axes_in + 0.9))  # + y label and tick labels


def plot_accuracy_vs_ber(
    tables: Mapping[str, Rows], path: str | Path, title: str | None = None
) -> list[Path]:
    """Mean accuracy with its 95% CI band against BER (log axis); clean accuracy dashed; the 5th percentile
    of the realisations dotted (▽), and below, the share of realisations more than 10 points below clean.

    BER 0 cannot sit on a log axis: it is the clean accuracy, drawn as the dashed line.  Every BER of
    the tables is ticked and labelled (vertically, the figure widened until the closest two fit).
    """
    bers = sorted({_num(r["ber"]) for rows in tables.values() for r in rows if _num(r["ber"]) > 0})
    fig, (ax, share_ax) = new_figure(width=_ber_axis_width(bers), height=3.8, nrows=2, height_ratios=[3, 1],
                                     sharex=True)  # fmt: skip
    for i, (label, rows) in enumerate(tables.items()):
        colour = color_for(label, i)
        points = sorted((r for r in rows if _num(r["ber"]) > 0), key=lambda r: _num(r["ber"]))
        ber = _column(points, "ber")
        ax.plot(ber, _column(points, "acc_mean"), marker="o", color=colour, label=label)
        ax.fill_between(ber, _column(points, "ci_low"), _column(points, "ci_high"), color=colour, alpha=0.25,
                        linewidth=0)
        _tail(ax, share_ax, ber, points, colour)
        if rows:
            ax.axhline(_num(rows[0]["clean_acc"]), color=colour, linestyle="--", linewidth=0.8, alpha=0.8)
    ax.set_xscale("log")
    if bers:
        from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

        ax.xaxis.set_major_locator(FixedLocator(bers))
        ax.xaxis.set_major_formatter(FixedFormatter([ber_label(b) for b in bers]))
        ax.xaxis.set_minor_locator(NullLocator())
        share_ax.tick_params(axis="x", labelrotation=90)
    share_ax.set_xlabel("bit error rate (BER)")
    _share_axis(share_ax)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title or "Accuracy under random bit errors (mean, 95% CI; ▽ dotted: 5th percentile; dashed: "
                 "clean)", fontsize=8)  # fmt: skip
    ax.legend(loc="lower left")
    return save_figure(fig, path)


def plot_voltage_sweep(
    tables: Mapping[str, Rows], path: str | Path, title: str | None = None, voltage_unit: str = "V"
) -> list[Path]:
    """Accuracy (mean, 95% CI band over chips, 5th percentile dotted ▽) against supply voltage, energy per
    inference on a twin axis; below, the share of chips more than 10 points below clean.

    ``voltage_unit``: the preset's (``Technology.voltage_unit``), e.g. "V" or "Vmin" for a preset
    normalised to its lowest error-free voltage.
    """
    fig, (ax, share_ax) = new_figure(width=DOUBLE_WIDTH_IN / 1.5, height=3.8, nrows=2, height_ratios=[3, 1],
                                     sharex=True)  # fmt: skip
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
        _tail(ax, share_ax, volts, points, colour)
        if not energy_drawn:
            # Energy depends on the memory image's size and layout only: one curve when the models share it.
            energy_ax.plot(volts, _column(points, "energy_norm"), color="0.3", linestyle=":", marker="s",
                           markersize=2.5, label="energy / inference")
            energy_drawn = True
    share_ax.set_xlabel(f"SRAM supply voltage ({voltage_unit})")
    _share_axis(share_ax)
    ax.set_ylabel("test accuracy (%)")
    energy_ax.set_ylabel("energy per inference (relative to nominal)")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = energy_ax.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="lower right")
    default = "Accuracy (mean, 95% CI over chips; ▽ dotted: 5th percentile) and energy vs voltage"
    ax.set_title(title or default, fontsize=8)
    return save_figure(fig, path)


__all__ = ["ber_label", "plot_accuracy_vs_ber", "plot_voltage_sweep"]
