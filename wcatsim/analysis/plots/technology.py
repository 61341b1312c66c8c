"""BER and energy of an SRAM technology against supply voltage (``wcatsim sram show --plot``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wcatsim.analysis.plots.style import PALETTE, new_figure, save_figure


def plot_technology(tech: Any, path: str | Path, n_points: int = 200) -> list[Path]:
    """Left axis: BER (log); right axis: read energy and leakage normalised to nominal.

    ``tech`` is an ``sram_models.Technology``.  Marks v_min and v_nominal.
    Returns the files written (PNG and PDF).
    """
    v = np.linspace(tech.v_low, tech.v_high, n_points)
    ber = np.asarray(tech.ber(v), float)
    fig, ax = new_figure(height=3.0)
    unit = "V" if tech.voltage_unit == "V" else "× Vmin"
    faulty = getattr(tech, "ber_meaning", "faulty_cell") == "faulty_cell"
    meaning = "faulty-cell rate" if faulty else "bits read wrong"
    ax.semilogy(v, ber, color=PALETTE[0], label=f"BER ({meaning})")
    ax.set_xlabel(f"supply voltage ({unit})")
    ax.set_ylabel("bit error rate", color=PALETTE[0])
    ax.tick_params(axis="y", colors=PALETTE[0])
    ax.axvline(tech.v_min, color="0.5", linestyle=":", linewidth=0.8)
    near_right = tech.v_min > tech.v_low + 0.8 * (tech.v_high - tech.v_low)
    ax.text(
        tech.v_min,
        ax.get_ylim()[1],
        "v_min " if near_right else " v_min",
        fontsize=6,
        va="top",
        ha="right" if near_right else "left",
        color="0.4",
    )

    right = ax.twinx()
    right.plot(v, tech.read_energy_norm(v), color=PALETTE[1], label="read energy / nominal")
    right.plot(v, tech.leakage_norm(v), color=PALETTE[2], linestyle="--", label="leakage / nominal")
    right.set_ylabel("energy relative to nominal", color=PALETTE[1])
    right.tick_params(axis="y", colors=PALETTE[1])
    right.set_ylim(0, max(1.05, float(np.max(tech.read_energy_norm(v))) * 1.05))
    right.grid(False)
    right.spines["right"].set_visible(True)

    handles = ax.get_lines()[:1] + right.get_lines()
    # below the axes: the curves cross the whole plot area
    ax.legend(
        handles,
        [h.get_label() for h in handles],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=2,
        frameon=False,
    )
    ax.set_title(f"{tech.name} ({tech.node})")
    return save_figure(fig, path)
